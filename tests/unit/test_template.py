"""template.yaml is the single source of truth; these are the rules it must keep."""

import json
from pathlib import Path

from infra.local.naming import events_dir_of
from infra.local.template import ROOT, read_stack

STACK = read_stack()
RESOURCES = STACK.document["Resources"]


def test_routes_are_explicit() -> None:
    assert STACK.routes
    assert all("{proxy+}" not in route.path for route in STACK.routes)


def test_every_function_has_sample_events() -> None:
    for name in STACK.functions:
        folder = ROOT / "events" / events_dir_of(name)
        samples = list(folder.glob("*.json"))
        assert samples, f"{name} has no sample under {folder}"
        for sample in samples:
            json.loads(sample.read_text(encoding="utf-8"))


def test_queue_visibility_is_at_least_six_function_timeouts() -> None:
    for mapping in STACK.queue_mappings:
        queue = RESOURCES[mapping.queue]["Properties"]
        assert queue["VisibilityTimeout"] >= 6 * STACK.functions[mapping.function].timeout


def test_every_consumed_queue_redrives_to_an_alarmed_dead_letter_queue_after_5_receives() -> None:
    alarmed = {
        dimension["Value"]["Fn::GetAtt"][0]
        for resource in RESOURCES.values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        and resource["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
        for dimension in resource["Properties"]["Dimensions"]
        if dimension["Name"] == "QueueName"
    }
    for mapping in STACK.queue_mappings:
        redrive = RESOURCES[mapping.queue]["Properties"]["RedrivePolicy"]
        assert redrive["maxReceiveCount"] == 5
        assert redrive["deadLetterTargetArn"]["Fn::GetAtt"][0] in alarmed


def test_queue_consumers_report_partial_batch_failures() -> None:
    assert all(mapping.report_batch_item_failures for mapping in STACK.queue_mappings)


NO_RESOURCE_LEVEL_PERMISSIONS = {"secretsmanager:ListSecrets"}
"""Actions IAM authorizes on ``*`` only (listing secrets returns names, never values)."""


def test_every_function_has_its_own_narrow_policy() -> None:
    for name, resource in RESOURCES.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        policies = resource["Properties"].get("Policies", [])
        assert policies, f"{name} has no policy of its own"
        for policy in policies:
            for statement in policy["Statement"]:
                actions = (
                    statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                )
                assert all("*" not in action for action in actions), f"{name}: wildcard action"
                if statement["Resource"] == "*":
                    assert set(actions) <= NO_RESOURCE_LEVEL_PERMISSIONS, f"{name}: wildcard resource"


def test_the_data_model_document_names_every_table_and_index() -> None:
    document = (ROOT / "docs" / "data-model.md").read_text(encoding="utf-8")
    for name, resource in RESOURCES.items():
        if resource["Type"] == "AWS::DynamoDB::Table":
            assert name in document
            for index in resource["Properties"].get("GlobalSecondaryIndexes", []):
                assert index["IndexName"] in document


def test_functions_fit_in_128_mb() -> None:
    assert all(spec.memory <= 128 for spec in STACK.functions.values())


def test_every_handler_file_exists() -> None:
    for spec in STACK.functions.values():
        assert (spec.code_uri / f"{spec.handler.split('.')[0]}.py").is_file()
        assert all(Path(layer).is_dir() for layer in spec.layers)
