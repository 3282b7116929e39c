"""One way to call a Tencent server API with an access token (WeCom, WeChat Store).

Both APIs answer JSON with an ``errcode``, take the token as ``?access_token=``, and share its
handling: the token is cached for every Lambda instance (``TokenCache``) and refreshed 5 minutes
before it expires; 40001 / 40014 / 42001 (token invalid or expired) drop it, fetch a new one and
retry once; the service's busy / frequency-limit codes back off (0.5 s, 1 s, 2 s) and retry; any
other errcode raises the service's :class:`~incentives.core.errors.ErrcodeRefusal`.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from typing import Any, ClassVar

from incentives.core.clock import Clock
from incentives.core.errors import ErrcodeRefusal
from incentives.wecom.ports import CachedToken, TokenCache

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
BACKOFF_SECONDS = (0.5, 1.0, 2.0)
EARLY_REFRESH = timedelta(minutes=5)

JsonTransport = Callable[[str, str, bytes | None, float], bytes]
"""(method, url, body, timeout) → the answer's body."""


def urllib_transport(method: str, url: str, body: bytes | None, timeout: float) -> bytes:
    request = urllib.request.Request(  # noqa: S310 - https in production, the sandbox locally
        url, data=body, method=method, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310
        answer: bytes = reply.read()
        return answer


class TokenClient:
    """A service's client names its error (``error``), the codes it backs off on (``retried``),
    where a token comes from (``token_path``, ``_token_query``) and its cache key."""

    error: ClassVar[type[ErrcodeRefusal]] = ErrcodeRefusal
    retried: ClassVar[frozenset[int]] = frozenset({45009})
    token_path: ClassVar[str] = "/cgi-bin/gettoken"

    def __init__(
        self,
        cache: TokenCache,
        clock: Clock,
        cache_key: str,
        *,
        base_url: str,
        transport: JsonTransport,
        timeout_seconds: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._cache = cache
        self._clock = clock
        self._cache_key = cache_key
        self._base = base_url.rstrip("/")
        self._transport = transport
        self._timeout = timeout_seconds
        self._sleep = sleep

    def _token_query(self) -> dict[str, str]:
        raise NotImplementedError

    def _send(self, method: str, path_and_query: str, body: dict[str, Any] | None) -> dict[str, Any]:
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        answer = json.loads(self._transport(method, self._base + path_and_query, data, self._timeout))
        if not isinstance(answer, dict):
            raise self.error(-2, "the answer is not a JSON object", path_and_query.split("?", 1)[0])
        return answer

    def _fetch_token(self) -> CachedToken:
        query = urllib.parse.urlencode(self._token_query())
        answer = self._send("GET", f"{self.token_path}?{query}", None)
        if answer.get("errcode", 0):
            raise self.error.of(int(answer["errcode"]), str(answer.get("errmsg", "")), self.token_path)
        token = CachedToken(
            str(answer["access_token"]),
            self._clock.now() + timedelta(seconds=int(answer.get("expires_in", 7200))),
        )
        self._cache.put(self._cache_key, token)
        return token

    def access_token(self) -> str:
        cached = self._cache.get(self._cache_key)
        if cached is None or cached.expires_at - EARLY_REFRESH <= self._clock.now():
            cached = self._fetch_token()
        return cached.token

    def _call(
        self, method: str, path: str, query: dict[str, Any] | None, body: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Call an API with the access token; token expiry and frequency limits are handled here."""
        token_retried = False
        backoffs = list(BACKOFF_SECONDS)
        while True:
            token = self.access_token()
            params = urllib.parse.urlencode({"access_token": token, **(query or {})})
            answer = self._send(method, f"{path}?{params}", body)
            errcode = int(answer.get("errcode", 0) or 0)
            if errcode == 0:
                return answer
            if errcode in TOKEN_ERRORS and not token_retried:
                self._cache.drop(self._cache_key, token)
                token_retried = True
                continue
            if errcode in self.retried and backoffs:
                self._sleep(backoffs.pop(0))
                continue
            raise self.error.of(errcode, str(answer.get("errmsg", "")), path)
