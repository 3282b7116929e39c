"""Sandbox servers of external services, started and stopped with the local stack.

Each sandbox is a small HTTP server on loopback imitating a SaaS we cannot reach offline
(WeCom, WeChat Pay). A sandbox registers itself in :data:`SANDBOXES` with the environment
variable that points the real client at it, so switching to production is a setting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class Sandbox(Protocol):
    name: str
    base_url: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class SandboxEntry:
    """How to build a sandbox, and which setting names its base URL for the clients."""

    env_var: str
    build: Callable[[str, int], Sandbox]
    default_port: int


SANDBOXES: list[SandboxEntry] = []
