"""Every integration test also checks IAM: each AWS call a function makes must be one its own
policy in template.yaml allows, so a test that passes locally does not meet AccessDenied on AWS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from infra.local.config import ACCOUNT_ID
from infra.local.lambdas import Functions
from infra.local.template import read_stack
from tests.support.iam import AwsAccount, CallRecorder, allowing, function_statements

if TYPE_CHECKING:
    from tests.conftest import StackHandle


def table_partition_keys(handle: StackHandle) -> dict[str, str]:
    """Physical table name → its partition key attribute, from the template."""
    keys = {}
    for logical, resource in read_stack().resources_of("AWS::DynamoDB::Table").items():
        schema = resource["Properties"]["KeySchema"]
        keys[handle.ref(logical)] = next(key["AttributeName"] for key in schema if key["KeyType"] == "HASH")
    return keys


def recorder_for(handle: StackHandle) -> CallRecorder:
    return CallRecorder(AwsAccount(handle.config.region, ACCOUNT_ID, table_partition_keys(handle)))


def denied_calls(handle: StackHandle, recorder: CallRecorder) -> list[str]:
    """The recorded requests no statement of their function's policy allows."""
    stack, denied = read_stack(), []
    for call in recorder.calls:
        statements = function_statements(stack, handle.resolver, call.function)
        denied.extend(
            f"{call.function}: {request}" for request in call.requests if not allowing(statements, request)
        )
    return denied


@pytest.fixture(autouse=True)
def calls_allowed_by_iam(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CallRecorder | None]:
    """Records what functions call during a test that uses ``stack``; fails it on a call IAM would deny."""
    if "stack" not in request.fixturenames:
        yield None
        return
    handle: StackHandle = request.getfixturevalue("stack")
    recorder = recorder_for(handle)
    invoke = Functions.invoke

    def recorded_invoke(self: Functions, name: str, event: object) -> object:
        with recorder.inside(name):
            return invoke(self, name, event)

    monkeypatch.setattr(Functions, "invoke", recorded_invoke)
    with recorder.installed():
        yield recorder
    denied = denied_calls(handle, recorder)
    assert not denied, "calls the template's policies do not allow:\n" + "\n".join(sorted(set(denied)))
