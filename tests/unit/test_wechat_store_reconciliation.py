"""Funds flows read defensively, and expected vs charged per order, against a fake of the subsidy
area's ``SubsidyExpectations`` (the real one is wired in ``incentives.runtime.wechat_store``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import pytest

from incentives.wechat_store.flows import Flow, QuarantinedFlow, read_flow
from incentives.wechat_store.reconciliation import reconcile

DAY = date(2026, 11, 24)


@dataclass(frozen=True)
class Expectation:
    """The contract's ``SubsidyExpectation`` (the fields reconciliation reads)."""

    corp_id: str
    order_id: str
    campaign_id: str | None
    scene: str | None
    in_plan: bool
    settled_fen: int
    standard_rate_ppm: int
    expected_rate_ppm: int
    expected_fee_fen: int
    fee_saving_fen: int
    growth_card_fen: int
    card_recipient: str | None
    state: str
    evidence: tuple[str, ...]


def expected(order_id: str, fee: int, scene: str = "wecom_share", campaign: str = "c-july") -> Expectation:
    return Expectation(
        "ww-1",
        order_id,
        campaign,
        scene,
        True,
        48_000,
        50_000,
        10_000,
        fee,
        1920,
        192,
        "sph",
        "final",
        (f"matched {scene}: from_wecom", "winner by priority"),
    )


class FakeExpectations:
    def __init__(self, day: list[Expectation], others: list[Expectation] = ()) -> None:  # type: ignore[assignment]
        self.day, self.others = day, {e.order_id: e for e in others}

    def expectation(self, corp_id: str, order_id: str) -> Expectation | None:
        return self.others.get(order_id) or next((e for e in self.day if e.order_id == order_id), None)

    def expectations_for_day(self, corp_id: str, day: date) -> Iterable[Expectation]:
        return list(self.day) if day == DAY else []


def fee(order_id: str, amount: int, flow_type: int = 2, flow_id: str | None = None) -> Flow:
    return Flow(flow_id or f"f-{order_id}-{flow_type}", 2, flow_type, amount, order_id, None)


def test_an_equal_fee_is_matched() -> None:
    report = reconcile("ww-1", DAY, [fee("o1", 480)], [], FakeExpectations([expected("o1", 480)]))
    [row] = report.rows
    assert (row.bucket, row.expected_fee_fen, row.charged_fee_fen, row.difference_fen) == (
        "matched",
        480,
        480,
        0,
    )


def test_an_over_charged_order_differs_naming_both_figures_the_scene_and_its_evidence() -> None:
    report = reconcile("ww-1", DAY, [fee("o1", 2400)], [], FakeExpectations([expected("o1", 480)]))
    [row] = report.rows
    assert row.bucket == "differs" and (row.expected_fee_fen, row.charged_fee_fen, row.difference_fen) == (
        480,
        2400,
        1920,
    )
    assert row.scene == "wecom_share" and row.evidence == (
        "matched wecom_share: from_wecom",
        "winner by priority",
    )
    assert "over-charged by 1920 fen" in row.note


def test_a_fee_returned_by_the_platform_counts_against_the_charge() -> None:
    flows = [fee("o1", 2400), fee("o1", 1920, flow_type=1)]
    [row] = reconcile("ww-1", DAY, flows, [], FakeExpectations([expected("o1", 480)])).rows
    assert row.bucket == "matched" and row.charged_fee_fen == 480


def test_an_expectation_with_no_fee_booked_is_missing() -> None:
    [row] = reconcile("ww-1", DAY, [], [], FakeExpectations([expected("o1", 480)])).rows
    assert (row.bucket, row.expected_fee_fen, row.charged_fee_fen) == ("missing", 480, None)


def test_a_fee_on_an_order_expected_another_day_is_compared_with_that_expectation() -> None:
    [row] = reconcile("ww-1", DAY, [fee("o9", 480)], [], FakeExpectations([], [expected("o9", 480)])).rows
    assert row.bucket == "matched"


def test_a_fee_on_an_order_with_no_expectation_is_missing() -> None:
    [row] = reconcile("ww-1", DAY, [fee("o9", 480)], [], FakeExpectations([])).rows
    assert (row.bucket, row.charged_fee_fen, row.expected_fee_fen) == ("missing", 480, None)


def test_quarantined_records_are_reported_with_their_reason() -> None:
    quarantined = [QuarantinedFlow("odd", "unknown funds_type 77", "o1", "{}")]
    report = reconcile("ww-1", DAY, [], quarantined, FakeExpectations([]))
    [row] = report.rows
    assert (row.bucket, row.note, row.flow_ids) == ("quarantined", "unknown funds_type 77", ("odd",))


def test_totals_are_kept_per_day_and_per_campaign() -> None:
    expectations = FakeExpectations([expected("o1", 480, campaign="a"), expected("o2", 300, campaign="b")])
    report = reconcile("ww-1", DAY, [fee("o1", 480), fee("o2", 900)], [], expectations)
    assert report.totals.buckets == {"matched": 1, "differs": 1, "missing": 0, "quarantined": 0}
    assert (report.totals.expected_fee_fen, report.totals.charged_fee_fen, report.totals.difference_fen) == (
        780,
        1380,
        600,
    )
    assert report.by_campaign["a"].buckets["matched"] == 1 and report.by_campaign["b"].difference_fen == 600


# --- funds flows: drift is quarantined, never a crash -------------------------------------------


def record(**fields: object) -> dict[str, object]:
    return {
        "flow_id": "f1",
        "funds_type": 2,
        "flow_type": 2,
        "amount": 480,
        "related_info_list": [{"related_type": 1, "order_id": "o1"}],
        "bookkeeping_time": "2026-11-24 10:00:00",
        **fields,
    }


def test_a_fee_flow_is_read_with_its_order_and_booking_time_in_the_stores_zone() -> None:
    flow = read_flow(record())
    assert isinstance(flow, Flow) and (flow.order_id, flow.signed_fee_fen) == ("o1", 480)
    assert flow.booked_at is not None and flow.booked_at.isoformat() == "2026-11-24T10:00:00+08:00"


def test_a_missing_related_type_keeps_the_order_with_a_note() -> None:
    flow = read_flow(record(related_info_list=[{"order_id": "o1"}]))
    assert isinstance(flow, Flow) and flow.order_id == "o1" and "related_type missing" in flow.notes[0]


def test_a_missing_bookkeeping_time_is_tolerated_with_a_note() -> None:
    flow = read_flow({k: v for k, v in record().items() if k != "bookkeeping_time"})
    assert isinstance(flow, Flow) and flow.booked_at is None and "bookkeeping_time missing" in flow.notes[0]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"funds_type": 77}, "unknown funds_type 77"),
        ({"flow_type": 3}, "unknown flow_type 3"),
        ({"amount": "4.8"}, "amount is not a whole number of fen: '4.8'"),
        ({"related_info_list": [{"related_type": 9, "order_id": "o1"}]}, "unknown related_type 9"),
        ({"related_info_list": []}, "a service fee that names no order"),
        ({"flow_id": ""}, "the record has no flow_id"),
    ],
)
def test_drifting_records_are_quarantined_with_their_reason(fields: dict[str, object], reason: str) -> None:
    quarantined = read_flow(record(**fields))
    assert isinstance(quarantined, QuarantinedFlow) and quarantined.reason == reason
