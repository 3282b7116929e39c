"""Loading the real handlers and invoking them with a Lambda-like context."""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


Handler = Callable[[Any, Any], Any]
DEFAULT_CONCURRENCY = 4


class _Instances:
    """The instances of one function: each serves one invocation at a time, as on Lambda.

    An instance is the handler module loaded under its own name, so module-level state (the
    resolver holding the current request, clients, caches) belongs to it alone. An idle
    instance is reused (the most recently used first, as Lambda keeps warm ones); a new one is
    loaded (a cold start) while fewer than ``size`` exist; beyond that an invocation waits.
    """

    def __init__(self, spec: FunctionSpec, size: int) -> None:
        self._spec = spec
        self._size = size
        self._idle: list[Handler] = []
        self._loaded = 0
        self._changed = threading.Condition()

    @contextmanager
    def instance(self) -> Iterator[Handler]:
        with self._changed:
            while not self._idle and self._loaded >= self._size:
                self._changed.wait()
            handler = self._idle.pop() if self._idle else None
            if handler is None:
                self._loaded += 1
                number = self._loaded
        if handler is None:
            try:
                handler = _load_handler(self._spec, number)
            except BaseException:
                with self._changed:
                    self._loaded -= 1
                    self._changed.notify()
                raise
        try:
            yield handler
        finally:
            with self._changed:
                self._idle.append(handler)
                self._changed.notify()


class Functions:
    """Every function of the stack, each a small pool of instances loaded on first use (cold starts)."""

    def __init__(self, stack: Stack, region: str, concurrency: int = DEFAULT_CONCURRENCY) -> None:
        if concurrency < 1:
            raise ValueError(f"a function needs at least one instance, not {concurrency}")
        self._stack = stack
        self._region = region
        self._concurrency = concurrency
        self._pools: dict[str, _Instances] = {}
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

    def _instances(self, name: str) -> _Instances:
        with self._lock:
            if name not in self._pools:
                self._pools[name] = _Instances(self.spec(name), self._concurrency)
            return self._pools[name]

    def invoke(self, name: str, event: Any) -> Any:
        """Run the function on an idle instance (waiting for one if all are busy)."""
        spec = self.spec(name)
        with self._instances(name).instance() as handler:
            context = LambdaContext(spec.name, spec.memory, spec.timeout, self._region)
            return handler(event, context)


_loading = threading.Lock()
"""Cold starts run one at a time: they change ``sys.path`` and import shared layer modules."""


def _load_handler(spec: FunctionSpec, number: int) -> Handler:
    module_file, _, attribute = spec.handler.rpartition(".")
    path = spec.code_uri / f"{module_file.replace('.', os.sep)}.py"
    module_name = f"local_function_{spec.name}_{number}"
    with _loading:
        for layer in spec.layers:
            if str(layer) not in sys.path:
                sys.path.insert(0, str(layer))
        _keep_powertools_requests_per_instance()
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module: ModuleType = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = module
        code = str(spec.code_uri.resolve())
        sys.path.insert(0, code)  # the task root: a function imports the modules it ships with
        loaded = set(sys.modules)
        try:
            module_spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
        finally:
            sys.path.remove(code)
            _forget_own_modules(set(sys.modules) - loaded, code)
    handler: Handler = getattr(module, attribute)
    return handler


def _forget_own_modules(names: set[str], code: str) -> None:
    """Drop from ``sys.modules`` the modules a function loaded from its own folder (its routers).

    On Lambda every instance is a process of its own; here they share one. Forgotten, each
    instance imports its own copies (a router included in one instance's resolver is not the
    other's), and two functions may ship modules of the same name. The handler module keeps
    what it imported; a function must not import its own modules lazily, in a request.
    """
    for name in names:
        file = getattr(sys.modules.get(name), "__file__", None) or ""
        if file and os.path.abspath(file).startswith(code + os.sep):
            del sys.modules[name]


def _keep_powertools_requests_per_instance() -> None:
    """Powertools' REST resolver keeps the request it resolves on its base class
    (``BaseRouter.current_event`` and ``lambda_context``): one per process, which on Lambda is
    one per instance. Locally the instances of every function share one process, so two
    concurrent requests would read each other's. Each resolver also keeps the request on itself,
    where ``app.current_event`` finds it first; its instance serves one invocation at a time."""
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
    from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

    resolve = ApiGatewayResolver.resolve
    if getattr(resolve, "per_instance", False):
        return

    def resolve_on_this_instance(self: ApiGatewayResolver, event: Any, context: Any) -> dict[str, Any]:
        raw = event.raw_event if isinstance(event, BaseProxyEvent) else event
        self.current_event = self._to_proxy_event(raw)
        self.lambda_context = context
        return resolve(self, event, context)

    resolve_on_this_instance.per_instance = True  # type: ignore[attr-defined]
    ApiGatewayResolver.resolve = resolve_on_this_instance  # type: ignore[method-assign]
