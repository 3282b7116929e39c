"""The WeCom server API client (qyapi.weixin.qq.com), with the access token cached across instances.

- One token per (corp, secret), cached in DynamoDB (shared by every Lambda instance) and in
  memory, refreshed 5 minutes before it expires;
- errcode 40001 / 40014 / 42001 (token invalid or expired): drop the token, fetch a new one,
  retry once;
- errcode 45009 (frequency limit): back off (0.5 s, 1 s, 2 s) and retry;
- any other non-zero errcode (or a 45009 that outlasts the backoff) raises
  :class:`WeComApiError` with errcode, errmsg and what the code means; the APIs answer it as a
  ``wecom_error`` (``incentives.api.errors``): 503 with ``Retry-After`` when sending again
  later can help (busy, rate limited: :class:`WeComUnavailable`), else 502.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from incentives.core.clock import Clock
from incentives.core.errors import ErrcodeRefusal, UpstreamUnavailable
from incentives.wecom.ports import CachedToken, TokenCache
from incentives.wecom.token_client import (
    JsonTransport,
    TokenClient,
    urllib_transport,
)

PRODUCTION_BASE_URL = "https://qyapi.weixin.qq.com"
FREQUENCY_LIMIT = 45009


MEANINGS: dict[int, str] = {
    -1: "WeCom is busy; try again in a few seconds",
    40001: "WeCom refused the app secret: check the tenant's wecom_secret",
    40014: "WeCom refused the access token, even a fresh one",
    42001: "WeCom says the access token expired, even a fresh one",
    45009: "WeCom's API call frequency limit was reached and outlasted the retries; try again in a minute",
    45033: "too many concurrent calls to WeCom; try again in a few seconds",
    48002: "the WeCom app may not call this API: grant it in the WeCom admin console",
    60011: (
        "the WeCom app has no permission for these members or departments: add them to the app's "
        "visible scope in the WeCom admin console"
    ),
}
"""What WeCom's global error codes mean, in the words an operator reads in an error answer."""

RETRY_AFTER_SECONDS: dict[int, int] = {-1: 5, 45009: 60, 45033: 5}
"""Codes for which the same call can succeed later, and how long to wait before sending it again."""


class WeComApiError(ErrcodeRefusal):
    """WeCom answered a non-zero errcode (after the client's own retries)."""

    code = "wecom_error"
    service = "WeCom"
    refusal = "WeCom refused the call"
    meanings = MEANINGS
    retry_after = RETRY_AFTER_SECONDS


class WeComUnavailable(WeComApiError, UpstreamUnavailable):
    """WeCom is busy or rate-limited: the same call can succeed after ``retry_after_seconds``."""


WeComApiError.unavailable = WeComUnavailable


class MemoryTokenCache:
    def __init__(self) -> None:
        self.tokens: dict[str, CachedToken] = {}

    def get(self, key: str) -> CachedToken | None:
        return self.tokens.get(key)

    def put(self, key: str, token: CachedToken) -> None:
        self.tokens[key] = token

    def drop(self, key: str, token: str) -> None:
        if key in self.tokens and self.tokens[key].token == token:
            del self.tokens[key]


class WeComClient(TokenClient):
    error = WeComApiError
    retried = frozenset({FREQUENCY_LIMIT})
    token_path = "/cgi-bin/gettoken"

    def __init__(
        self,
        corp_id: str,
        secret: str,
        cache: TokenCache,
        clock: Clock,
        *,
        base_url: str = PRODUCTION_BASE_URL,
        transport: JsonTransport = urllib_transport,
        timeout_seconds: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(
            cache,
            clock,
            f"{corp_id}#{hashlib.sha256(secret.encode()).hexdigest()[:16]}",
            base_url=base_url,
            transport=transport,
            timeout_seconds=timeout_seconds,
            sleep=sleep,
        )
        self.corp_id = corp_id
        self._secret = secret

    def _token_query(self) -> dict[str, str]:
        return {"corpid": self.corp_id, "corpsecret": self._secret}

    def call(
        self, method: str, path: str, query: dict[str, Any] | None = None, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Call an API with the access token; token expiry and frequency limits are handled here."""
        return self._call(method, path, query, body)

    # --- the APIs we use ------------------------------------------------------------------------------

    def departments(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/cgi-bin/department/list").get("department", []))

    def department(self, department_id: str) -> dict[str, Any]:
        """One department (``department/get``); errcode 60123 once it is deleted."""
        return dict(self.call("GET", "/cgi-bin/department/get", {"id": department_id})["department"])

    def member_ids(self, cursor: str = "", limit: int = 10_000) -> tuple[list[dict[str, Any]], str]:
        """A page of (member, department) pairs of the whole corp (``user/list_id``, cursor-paged,
        up to 10,000 a page): ``dept_user`` entries ``{"userid", "department"}`` and the next cursor
        (empty after the last page)."""
        body: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        answer = self.call("POST", "/cgi-bin/user/list_id", body=body)
        return list(answer.get("dept_user", [])), str(answer.get("next_cursor", ""))

    def department_members(self, department_id: int) -> list[dict[str, Any]]:
        return list(
            self.call("GET", "/cgi-bin/user/simplelist", {"department_id": department_id}).get("userlist", [])
        )

    def external_contact(self, external_user_id: str) -> dict[str, Any]:
        return self.call("GET", "/cgi-bin/externalcontact/get", {"external_userid": external_user_id})

    def corp_tags(self) -> list[dict[str, Any]]:
        return list(
            self.call("POST", "/cgi-bin/externalcontact/get_corp_tag_list", body={}).get("tag_group", [])
        )

    def add_corp_tag(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.call("POST", "/cgi-bin/externalcontact/add_corp_tag", body=body)["tag_group"])

    def edit_corp_tag(self, tag_or_group_id: str, name: str) -> None:
        self.call(
            "POST", "/cgi-bin/externalcontact/edit_corp_tag", body={"id": tag_or_group_id, "name": name}
        )

    def del_corp_tag(self, tag_ids: list[str], group_ids: list[str]) -> None:
        self.call(
            "POST", "/cgi-bin/externalcontact/del_corp_tag", body={"tag_id": tag_ids, "group_id": group_ids}
        )

    def mark_tag(self, user_id: str, external_user_id: str, add: list[str], remove: list[str]) -> None:
        self.call(
            "POST",
            "/cgi-bin/externalcontact/mark_tag",
            body={
                "userid": user_id,
                "external_userid": external_user_id,
                "add_tag": add,
                "remove_tag": remove,
            },
        )

    def add_contact_way(self, state: str, user_ids: list[str]) -> dict[str, Any]:
        """A "Contact Me" QR code (type 2: several members) whose scans carry ``state``."""
        return self.call(
            "POST",
            "/cgi-bin/externalcontact/add_contact_way",
            body={"type": 2, "scene": 2, "state": state, "user": user_ids, "skip_verify": True},
        )

    def send_welcome_msg(self, welcome_code: str, text: str) -> None:
        self.call(
            "POST",
            "/cgi-bin/externalcontact/send_welcome_msg",
            body={"welcome_code": welcome_code, "text": {"content": text}},
        )

    def convert_to_openid(self, user_id: str) -> str:
        return str(self.call("POST", "/cgi-bin/user/convert_to_openid", body={"userid": user_id})["openid"])

    def user_from_login_code(self, code: str) -> dict[str, Any]:
        """Who a web OAuth / QR login ``code`` belongs to (``auth/getuserinfo``; single use, 5 minutes).

        Members come back with ``userid``; people outside the enterprise with ``openid`` /
        ``external_userid`` instead. An unknown, expired or used code is errcode 40029.
        """
        return self.call("GET", "/cgi-bin/auth/getuserinfo", {"code": code})

    def member(self, user_id: str) -> dict[str, Any]:
        """A member's record (``user/get``): ``status`` 1 active, 2 disabled, 4 not activated, 5 left;
        errcode 60111 once the member is deleted."""
        return self.call("GET", "/cgi-bin/user/get", {"userid": user_id})
