"""Our X-Ray subsegments are opt in: by default no function loads the X-Ray SDK (SPEC §6 cold start).

Each test names the defect it catches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from incentives.runtime import tracing
from infra.local.template import ROOT, read_stack

STACK = read_stack()
LAYER = ROOT / "layers" / "incentives" / "python"

LOAD = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("handler_module", "app.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
files, layer = [], module.lambda_handler
while layer is not None:
    files.append(layer.__code__.co_filename)
    layer = getattr(layer, "__wrapped__", None)
traced = any("tracing" in name and "aws_lambda_powertools" in name for name in files)
print(json.dumps({"xray": "aws_xray_sdk" in sys.modules, "traced": traced}))
"""


def _load_handler(function: str, subsegments: str | None) -> dict[str, bool]:
    environment = {key: value for key, value in os.environ.items() if key != tracing.TRACE_SUBSEGMENTS} | {
        "PYTHONPATH": str(LAYER),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Test",
        "AWS_DEFAULT_REGION": "ap-southeast-1",
    }
    if subsegments is not None:
        environment[tracing.TRACE_SUBSEGMENTS] = subsegments
    result = subprocess.run(
        [sys.executable, "-c", LOAD],
        cwd=STACK.functions[function].code_uri,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    answer: dict[str, bool] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def test_the_template_leaves_subsegments_off_for_every_function() -> None:
    """Defaulting to "true" would put the X-Ray SDK back into every cold start."""
    assert STACK.parameter_defaults()["TraceSubsegments"] == "false"
    variables = STACK.document["Globals"]["Function"]["Environment"]["Variables"]
    assert variables[tracing.TRACE_SUBSEGMENTS] == {"Ref": "TraceSubsegments"}
    for spec in STACK.functions.values():
        assert spec.environment[tracing.TRACE_SUBSEGMENTS] == {"Ref": "TraceSubsegments"}, spec.name


@pytest.mark.parametrize("function", sorted(STACK.functions))
def test_no_function_builds_a_tracer_itself(function: str) -> None:
    """A handler with its own ``Tracer()`` loads the X-Ray SDK whatever the parameter says."""
    source = (STACK.functions[function].code_uri / "app.py").read_text(encoding="utf-8")
    assert "Tracer" not in source
    assert "trace_handler" in source, "the handler cannot be traced on demand"


@pytest.mark.parametrize(
    ("subsegments", "loaded"), [(None, False), ("false", False), ("true", True), ("TRUE", True)]
)
def test_the_x_ray_sdk_loads_only_when_subsegments_are_asked_for(
    subsegments: str | None, loaded: bool
) -> None:
    """Tracing off must not import the SDK; on, the handler must really be wrapped by the Tracer."""
    answer = _load_handler("EventProcessorFunction", subsegments)
    assert answer == {"xray": loaded, "traced": loaded}


def test_enabled_decorators_are_the_tracers_and_keep_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """The opt-in must trace and still return what the handler returns (disabled tracer: no daemon)."""
    monkeypatch.setenv(tracing.TRACE_SUBSEGMENTS, "true")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"echo": event["x"]}

    def method(value: int) -> int:
        return value + 1

    traced_handler, traced_method = tracing.trace_handler(handler), tracing.trace_method(method)
    assert traced_handler is not handler and traced_method is not method
    assert traced_handler({"x": 1}, None) == {"echo": 1}
    assert traced_method(1) == 2


def test_disabled_decorators_return_the_function_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """Off means no wrapper at all: nothing of the Tracer on the path of an invocation."""
    monkeypatch.delenv(tracing.TRACE_SUBSEGMENTS, raising=False)

    def handler(event: dict[str, Any], context: Any) -> None:
        return None

    assert tracing.trace_handler(handler) is handler
    assert tracing.trace_method(handler) is handler
