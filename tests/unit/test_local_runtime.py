"""Local runtime rules: schedules (rate / AWS cron, UTC), partial batch failures, intrinsics."""

from datetime import UTC, datetime

import pytest

from infra.local.naming import events_dir_of
from infra.local.poller import failed_message_ids
from infra.local.scheduler import aws_cron_to_standard, next_fire, scheduled_event
from infra.local.template import QueueMapping, Resolver, Schedule

T0 = datetime(2026, 11, 24, 3, 20, tzinfo=UTC)


def test_a_rate_fires_every_period() -> None:
    assert next_fire("rate(1 hour)", T0) == datetime(2026, 11, 24, 4, 20, tzinfo=UTC)
    assert next_fire("rate(5 minutes)", T0) == datetime(2026, 11, 24, 3, 25, tzinfo=UTC)
    assert next_fire("rate(2 days)", T0) == datetime(2026, 11, 26, 3, 20, tzinfo=UTC)


def test_an_aws_cron_fires_at_its_next_utc_match() -> None:
    # 00:00 Asia/Shanghai is 16:00 UTC the day before.
    assert next_fire("cron(0 16 * * ? *)", T0) == datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    assert next_fire("cron(0 * * * ? *)", T0) == datetime(2026, 11, 24, 4, 0, tzinfo=UTC)


def test_aws_weekdays_count_from_sunday_as_one() -> None:
    assert aws_cron_to_standard("0 10 ? * 2 *") == "0 10 * * 1"  # Monday
    assert aws_cron_to_standard("0 10 ? * 1-7 *") == "0 10 * * 0-6"
    assert next_fire("cron(0 10 ? * 2 *)", T0) == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # next Monday


@pytest.mark.parametrize("expression", ["rate(1 fortnight)", "cron(0 10 * *)", "at(2026-01-01T00:00:00)"])
def test_an_unsupported_expression_is_refused(expression: str) -> None:
    with pytest.raises(ValueError):
        next_fire(expression, T0)


def test_a_scheduled_event_has_eventbridges_shape() -> None:
    event = scheduled_event(
        Schedule("JobFunction", "Hourly", "rate(1 hour)", True, None), T0, "ap-southeast-1", "s"
    )
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["time"] == "2026-11-24T03:20:00Z"
    assert event["resources"] == ["arn:aws:events:ap-southeast-1:123456789012:rule/s-JobFunctionHourly"]


MAPPING = QueueMapping("F", "Q", 10, True, 0)
BATCH = [{"MessageId": "a"}, {"MessageId": "b"}]


def test_reported_failures_are_the_only_ones_retried() -> None:
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, MAPPING, BATCH) == {"b"}
    assert failed_message_ids({"batchItemFailures": []}, MAPPING, BATCH) == set()


def test_an_unknown_failure_identifier_fails_the_whole_batch() -> None:
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, MAPPING, BATCH) == {
        "a",
        "b",
    }


def test_without_report_batch_item_failures_the_answer_is_ignored() -> None:
    mapping = QueueMapping("F", "Q", 10, False, 0)
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "a"}]}, mapping, BATCH) == set()


def test_intrinsics_resolve_against_parameters_and_resources() -> None:
    resolver = Resolver(
        parameters={"Stage": "prod"},
        refs={"Queue": "https://q"},
        attributes={("Table", "Arn"): "arn:table"},
        pseudo={"AWS::Region": "r"},
    )
    assert (
        resolver.resolve({"Fn::Sub": "${Table.Arn}/index/${Stage}-${AWS::Region}"})
        == "arn:table/index/prod-r"
    )
    assert resolver.resolve({"Ref": "Queue"}) == "https://q"
    assert resolver.resolve({"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]}) == "a-prod"
    with pytest.raises(ValueError):
        resolver.resolve({"Fn::If": ["c", 1, 2]})


def test_sample_folders_are_named_after_their_function() -> None:
    assert events_dir_of("OrderWebhookFunction") == "order_webhook"
    assert events_dir_of("AfterSalesWindowFunction") == "after_sales_window"
