"""Loading the real handlers and invoking them with a Lambda-like context."""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from infra.local.config import ACCOUNT_ID
from infra.local.template import FunctionSpec, Stack


@dataclass
class LambdaContext:
    """The attributes and method of the Lambda context object that handlers use."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    region: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


class Functions:
    """Every function of the stack, imported on first use like a Lambda cold start."""

    def __init__(self, stack: Stack, region: str) -> None:
        self._stack = stack
        self._region = region
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        return sorted(self._stack.functions)

    def spec(self, name: str) -> FunctionSpec:
        try:
            return self._stack.functions[name]
        except KeyError:
            known = ", ".join(self.names)
            raise KeyError(f"no function {name} in template.yaml (known: {known})") from None

    def handler(self, name: str) -> Callable[[Any, Any], Any]:
        with self._lock:
            if name not in self._handlers:
                self._handlers[name] = _load_handler(self.spec(name))
            return self._handlers[name]

    def invoke(self, name: str, event: Any) -> Any:
        spec = self.spec(name)
        context = LambdaContext(spec.name, spec.memory, spec.timeout, self._region)
        return self.handler(name)(event, context)


def _load_handler(spec: FunctionSpec) -> Callable[[Any, Any], Any]:
    module_file, _, attribute = spec.handler.rpartition(".")
    for layer in spec.layers:
        if str(layer) not in sys.path:
            sys.path.insert(0, str(layer))
    path = spec.code_uri / f"{module_file.replace('.', os.sep)}.py"
    module_name = f"local_function_{spec.name}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module: ModuleType = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    module_spec.loader.exec_module(module)
    handler: Callable[[Any, Any], Any] = getattr(module, attribute)
    return handler
