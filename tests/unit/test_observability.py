"""template.yaml's observability: alarms that can reach someone, logs kept for a set time, a dashboard
of what the functions emit. Each test names the defect it catches."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from incentives.payouts.model import PayoutStatus
from infra.local.aws import NOT_EMULATED
from infra.local.template import ROOT, read_stack

STACK = read_stack()
RESOURCES: dict[str, dict[str, Any]] = STACK.document["Resources"]
GLOBAL_ENVIRONMENT = STACK.document["Globals"]["Function"]["Environment"]["Variables"]
TOPIC = "OperationsAlarmTopic"


def _of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in RESOURCES.items() if resource["Type"] == kind}


def _dead_letter_queue_of(queue: str) -> str:
    redrive = RESOURCES[queue]["Properties"]["RedrivePolicy"]
    return str(redrive["deadLetterTargetArn"]["Fn::GetAtt"][0])


ALARMS = _of_type("AWS::CloudWatch::Alarm")


def _dimension(alarm: dict[str, Any], name: str) -> Any:
    return next(d["Value"] for d in alarm["Properties"]["Dimensions"] if d["Name"] == name)


def _alarms_on(namespace: str, metric: str, dimension: str, value: Any) -> list[str]:
    return [
        name
        for name, alarm in ALARMS.items()
        if alarm["Properties"]["Namespace"] == namespace
        and alarm["Properties"]["MetricName"] == metric
        and any(d["Name"] == dimension and d["Value"] == value for d in alarm["Properties"]["Dimensions"])
    ]


def test_every_alarm_notifies_the_operations_topic() -> None:
    """An alarm without an action changes colour in the console and tells nobody."""
    assert ALARMS
    for name, alarm in ALARMS.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": TOPIC}], name


def test_cloudwatch_may_use_the_key_of_the_alarm_topic() -> None:
    """An AWS-managed key (alias/aws/sns) has a policy CloudWatch is not in: alarms are dropped silently."""
    key_reference = RESOURCES[TOPIC]["Properties"].get("KmsMasterKeyId")
    if key_reference is None:
        return  # an unencrypted topic needs no key grant
    assert isinstance(key_reference, dict), f"{TOPIC} uses a key whose policy the stack does not own"
    key = RESOURCES[key_reference["Ref"]]
    assert key["Type"] == "AWS::KMS::Key"
    grants = [
        statement
        for statement in key["Properties"]["KeyPolicy"]["Statement"]
        if statement["Effect"] == "Allow"
        and statement["Principal"].get("Service") == "cloudwatch.amazonaws.com"
    ]
    assert grants, "the key policy does not let CloudWatch use the key"
    actions = set(grants[0]["Action"])
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= actions


@pytest.mark.parametrize("function", sorted(STACK.functions))
def test_every_function_has_errors_and_throttles_alarms(function: str) -> None:
    """A function failing or throttled in production must page someone, whichever function it is."""
    for metric in ("Errors", "Throttles"):
        found = _alarms_on("AWS/Lambda", metric, "FunctionName", {"Ref": function})
        assert found, f"{function} has no {metric} alarm"
        alarm = ALARMS[found[0]]["Properties"]
        assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


@pytest.mark.parametrize("function", sorted(STACK.functions))
def test_every_function_logs_to_a_group_kept_for_the_retention_parameter(function: str) -> None:
    """Without an explicit group, Lambda creates one that keeps logs forever (and bills for them)."""
    groups = [
        resource["Properties"]
        for resource in _of_type("AWS::Logs::LogGroup").values()
        if resource["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{function}}}"}
    ]
    assert groups, f"no log group /aws/lambda/<{function}>"
    assert groups[0]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert "LogRetentionDays" in STACK.document["Parameters"]


def test_every_dead_letter_queue_is_alarmed_on_its_depth_and_its_age() -> None:
    """Depth says a message arrived; age says it is still there and will expire unhandled."""
    for mapping in STACK.queue_mappings:
        queue = _dead_letter_queue_of(mapping.queue)
        name = {"Fn::GetAtt": [queue, "QueueName"]}
        assert _alarms_on("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", name), queue
        assert _alarms_on("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", name), queue


def test_the_api_writes_json_access_logs_to_a_group_with_retention() -> None:
    api = next(iter(_of_type("AWS::Serverless::Api").values()))
    setting = api["Properties"]["AccessLogSetting"]
    group = RESOURCES[setting["DestinationArn"]["Fn::GetAtt"][0]]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    fields = json.loads(setting["Format"])
    assert {"requestId", "status", "resourcePath", "httpMethod"} <= set(fields)
    # Stages refuse access logging until the account's CloudWatch role is set.
    assert api["DependsOn"] == "ApiGatewayAccount"


def _emitted_metrics() -> set[str]:
    """Every metric name the functions pass to ``metrics.add_metric``."""
    names: set[str] = set()
    sources = [*ROOT.glob("functions/*/*.py"), *ROOT.glob("layers/incentives/python/incentives/**/*.py")]
    for source in sources:
        for prefix, name in re.findall(r'add_metric\(\s*name=(f?)"([^"]+)"', source.read_text("utf-8")):
            if not prefix:
                names.add(name)
            elif name == "Payout{outcome['status'].title()}":
                names.update(f"Payout{status.value.title()}" for status in PayoutStatus)
            elif name == "TransferNotice{notice.state.title()}":  # a bill's final states
                names.update(f"TransferNotice{state.title()}" for state in ("SUCCESS", "FAIL", "CANCELLED"))
            elif name == "SignIn_{method}":
                names.update(f"SignIn_{method}" for method in ("wecom", "miniprogram"))
            else:
                raise AssertionError(f"{source}: metric name {name} is built at run time; list its values")
    return names


def _dashboard() -> dict[str, Any]:
    (dashboard,) = _of_type("AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    return dict(json.loads(re.sub(r"\$\{([^}]+)\}", r"<\1>", body)))


def _dashboard_metrics() -> list[list[Any]]:
    widgets = _dashboard()["widgets"]
    return [metric for widget in widgets for metric in widget["properties"].get("metrics", [])]


def test_the_dashboard_shows_every_metric_the_functions_emit() -> None:
    emitted = _emitted_metrics()
    assert {"EventApplied", "WebhookEventAccepted", "PayoutPaid"} <= emitted  # the scan finds them
    namespace = GLOBAL_ENVIRONMENT["POWERTOOLS_METRICS_NAMESPACE"]
    service = GLOBAL_ENVIRONMENT["POWERTOOLS_SERVICE_NAME"]
    shown = {
        metric[1]
        for metric in _dashboard_metrics()
        if metric[0] == namespace and metric[2:4] == ["service", service]  # Powertools' default dimension
    }
    assert emitted <= shown, f"not on the dashboard: {sorted(emitted - shown)}"


def test_the_dashboard_shows_errors_and_throttles_of_every_function_and_dead_letter_depth() -> None:
    metrics = _dashboard_metrics()
    for function in STACK.functions:
        for name in ("Errors", "Throttles"):
            assert any(m[:4] == ["AWS/Lambda", name, "FunctionName", f"<{function}>"] for m in metrics), (
                function,
                name,
            )
    for mapping in STACK.queue_mappings:
        queue = _dead_letter_queue_of(mapping.queue)
        assert any(
            m[:4] == ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", f"<{queue}.QueueName>"]
            for m in metrics
        ), queue


SERVED_LOCALLY = {
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
    "AWS::SSM::Parameter",
    "AWS::Serverless::Function",
    "AWS::Serverless::LayerVersion",
    "AWS::Serverless::Api",
}


def test_every_resource_type_is_served_locally_or_skipped_on_purpose() -> None:
    """A new type must be either emulated by infra/local or listed in NOT_EMULATED, not ignored by chance."""
    unknown = {resource["Type"] for resource in RESOURCES.values()} - SERVED_LOCALLY - NOT_EMULATED
    assert not unknown, f"neither served nor listed in infra.local.aws.NOT_EMULATED: {sorted(unknown)}"
