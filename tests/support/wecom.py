"""A WeCom client wired to the WeCom sandbox in process (no HTTP): the unit tests' WeCom."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlparse

from incentives.core.clock import FixedClock
from incentives.wecom.client import MemoryTokenCache, WeComClient
from infra.local.sandboxes.wecom import WeComSandbox


def in_process(sandbox: WeComSandbox) -> Callable[[str, str, bytes | None, float], bytes]:
    """The client's transport, answered by ``sandbox`` as its HTTP server would."""

    def transport(method: str, url: str, body: bytes | None, timeout: float) -> bytes:
        parsed = urlparse(url)
        query, payload = dict(parse_qsl(parsed.query)), json.loads(body) if body else {}
        return json.dumps(sandbox.api(method, parsed.path, query, payload)).encode()

    return transport


def sandbox_client(sandbox: WeComSandbox, corp_id: str, at: datetime, **options: Any) -> WeComClient:
    """A client of ``corp_id`` (secret ``app-secret``) on ``sandbox``, its clock fixed at ``at``."""
    return WeComClient(
        corp_id, "app-secret", MemoryTokenCache(), FixedClock(at), transport=in_process(sandbox), **options
    )
