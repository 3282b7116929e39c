"""Reading template.yaml: functions, routes, queues, schedules, tables, with intrinsics resolved.

Only what the template uses is resolved (Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select);
anything else fails loudly rather than being guessed.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (``!Ref``, ``!GetAtt``, ``!Sub`` …)."""


def _construct_tag(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as a document (a fresh copy: callers may change it)."""
    stat = path.stat()
    return copy.deepcopy(_parsed(path, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=4)
def _parsed(path: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    """Parsing the template takes a quarter of a second; a test run provisions it hundreds of times."""
    with path.open(encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return document


@dataclass
class Resolver:
    """Resolves intrinsic functions against parameters and the local physical resources."""

    parameters: dict[str, Any]
    refs: dict[str, Any] = field(default_factory=dict)
    attributes: dict[tuple[str, str], Any] = field(default_factory=dict)
    pseudo: dict[str, str] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Fn::GetAtt":
                logical, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.get_att(logical, attribute)
            if key == "Fn::Sub":
                return self.sub(argument)
            if key == "Fn::Join":
                separator, items = argument
                return separator.join(str(self.resolve(item)) for item in items)
            if key == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(index)]
            if key.startswith("Fn::"):
                raise ValueError(f"the local runtime does not resolve {key}")
        return {key: self.resolve(item) for key, item in value.items()}

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise KeyError(f"Ref {name}: not a parameter or a locally provisioned resource")

    def get_att(self, logical: str, attribute: str) -> Any:
        try:
            return self.attributes[(logical, attribute)]
        except KeyError:
            raise KeyError(f"GetAtt {logical}.{attribute}: not provisioned locally") from None

    def sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name:
                logical, attribute = name.split(".", 1)
                return str(self.get_att(logical, attribute))
            return str(self.ref(name))

        return re.sub(r"\$\{([A-Za-z0-9_:.]+)\}", replace, text)


@dataclass(frozen=True)
class Route:
    function: str
    path: str
    method: str


@dataclass(frozen=True)
class QueueMapping:
    function: str
    queue: str
    batch_size: int
    report_batch_item_failures: bool
    batching_window_seconds: int


@dataclass(frozen=True)
class Schedule:
    function: str
    name: str
    expression: str
    enabled: bool
    input: str | None


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    code_uri: Path
    handler: str
    timeout: int
    memory: int
    environment: dict[str, Any]
    layers: list[Path]


@dataclass
class Stack:
    """The parts of template.yaml the local runtime serves."""

    document: dict[str, Any]
    functions: dict[str, FunctionSpec]
    routes: list[Route]
    queue_mappings: list[QueueMapping]
    schedules: list[Schedule]

    def resources_of(self, kind: str) -> dict[str, dict[str, Any]]:
        return {
            name: resource
            for name, resource in self.document["Resources"].items()
            if resource["Type"] == kind
        }

    def parameter_defaults(self) -> dict[str, Any]:
        return {name: spec.get("Default") for name, spec in self.document.get("Parameters", {}).items()}


def _logical_of(value: Any) -> str:
    """The logical id a ``!GetAtt X.Arn`` or ``!Ref X`` points at."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return str(target[0] if isinstance(target, list) else target.split(".")[0])
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    raise ValueError(f"cannot tell which resource {value!r} names")


def read_stack(path: Path = TEMPLATE) -> Stack:
    document = load_template(path)
    resources = document["Resources"]
    globals_function = document.get("Globals", {}).get("Function", {})
    layer_dirs = {
        name: ROOT / resource["Properties"]["ContentUri"]
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::LayerVersion"
    }
    functions: dict[str, FunctionSpec] = {}
    routes: list[Route] = []
    mappings: list[QueueMapping] = []
    schedules: list[Schedule] = []
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = {**globals_function, **resource.get("Properties", {})}
        environment = {
            **globals_function.get("Environment", {}).get("Variables", {}),
            **resource.get("Properties", {}).get("Environment", {}).get("Variables", {}),
        }
        layers = [layer_dirs[_logical_of(layer)] for layer in props.get("Layers", [])]
        functions[name] = FunctionSpec(
            name=name,
            code_uri=ROOT / props["CodeUri"],
            handler=props["Handler"],
            timeout=int(props.get("Timeout", 3)),
            memory=int(props.get("MemorySize", 128)),
            environment=environment,
            layers=layers,
        )
        for event_name, event in resource.get("Properties", {}).get("Events", {}).items():
            kind, event_props = event["Type"], event.get("Properties", {})
            if kind == "Api":
                routes.append(Route(name, event_props["Path"], event_props["Method"].upper()))
            elif kind == "SQS":
                mappings.append(
                    QueueMapping(
                        function=name,
                        queue=_logical_of(event_props["Queue"]),
                        batch_size=int(event_props.get("BatchSize", 10)),
                        report_batch_item_failures="ReportBatchItemFailures"
                        in event_props.get("FunctionResponseTypes", []),
                        batching_window_seconds=int(event_props.get("MaximumBatchingWindowInSeconds", 0)),
                    )
                )
            elif kind in {"Schedule", "ScheduleV2"}:
                expression = event_props.get("Schedule") or event_props["ScheduleExpression"]
                schedules.append(
                    Schedule(
                        function=name,
                        name=event_name,
                        expression=expression,
                        enabled=event_props.get("Enabled", event_props.get("State", "ENABLED"))
                        not in (False, "DISABLED"),
                        input=event_props.get("Input"),
                    )
                )
            else:
                raise ValueError(f"{name}.{event_name}: event type {kind} is not served locally")
    return Stack(document, functions, routes, mappings, schedules)
