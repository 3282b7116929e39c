"""The WeChat Store API client (api.weixin.qq.com, ``channels/ec/...``), with a shared access token.

- The token (``cgi-bin/token``, client_credential with the store's appid / secret) is cached in
  the table for every Lambda instance, as WeCom's is, and refreshed 5 minutes before it expires;
- errcode 40001 / 40014 / 42001 (token invalid or expired): drop it, fetch a new one, retry once;
- errcode 45009 (frequency limit) and -1 (busy): back off (0.5 s, 1 s, 2 s) and retry;
- any other errcode raises :class:`StoreApiError` naming the code, the API and what it means;
  the APIs answer it as ``wechat_store_error`` (503 with ``Retry-After`` when a later call can
  succeed, else 502).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from incentives.core.clock import Clock
from incentives.core.errors import ErrcodeRefusal, NotFound, UpstreamUnavailable
from incentives.wecom.ports import TokenCache
from incentives.wecom.token_client import JsonTransport, TokenClient, urllib_transport

PRODUCTION_BASE_URL = "https://api.weixin.qq.com"
RETRIED_ERRORS = frozenset({-1, 45009})
ORDER_NOT_FOUND = 100002
FLOW_PAGE_SIZE = 100

MEANINGS: dict[int, str] = {
    -1: "the WeChat Store API is busy; try again in a few seconds",
    40001: "WeChat refused the store's AppSecret: check the tenant's wechat_store secret",
    40013: "WeChat does not know the store's appid: check the tenant's wechat_store appid",
    40125: "WeChat refused the store's AppSecret: check the tenant's wechat_store secret",
    40164: "this server's IP is not on the store's API IP allowlist (store console, 开发设置)",
    42001: "WeChat says the access token expired, even a fresh one",
    45009: "the store's API frequency limit was reached and outlasted the retries; try again in a minute",
    47001: "WeChat could not read the request body (a field has the wrong type)",
    40097: "WeChat refused a request parameter",
    48001: "the store has not granted this API: enable it in the store's console (开发设置 / 权限)",
    100002: "the store has no such order (or the token belongs to another store)",
    10080000: "the store's account is being closed",
    10080001: "the store's account is closed",
}
"""What the store API's error codes mean, in the words an operator reads in an error answer."""

RETRY_AFTER_SECONDS: dict[int, int] = {-1: 5, 45009: 60}


class StoreApiError(ErrcodeRefusal):
    """The WeChat Store API answered a non-zero errcode (after the client's own retries)."""

    code = "wechat_store_error"
    service = "WeChat Store"
    refusal = "the WeChat Store API refused the call"
    meanings = MEANINGS
    retry_after = RETRY_AFTER_SECONDS


class StoreApiUnavailable(StoreApiError, UpstreamUnavailable):
    """Busy or rate-limited: the same call can succeed after ``retry_after_seconds``."""


StoreApiError.unavailable = StoreApiUnavailable


class StoreClient(TokenClient):
    error = StoreApiError
    retried = RETRIED_ERRORS
    token_path = "/cgi-bin/token"

    def __init__(
        self,
        appid: str,
        secret: str,
        cache: TokenCache,
        clock: Clock,
        *,
        tenant: str,
        base_url: str = PRODUCTION_BASE_URL,
        transport: JsonTransport = urllib_transport,
        timeout_seconds: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # The cache's keys start with the tenant (the table partitions by it).
        super().__init__(
            cache,
            clock,
            f"{tenant}#store#{appid}#{hashlib.sha256(secret.encode()).hexdigest()[:16]}",
            base_url=base_url,
            transport=transport,
            timeout_seconds=timeout_seconds,
            sleep=sleep,
        )
        self.appid = appid
        self._secret = secret

    def _token_query(self) -> dict[str, str]:
        return {"grant_type": "client_credential", "appid": self.appid, "secret": self._secret}

    def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to an API with the access token; token expiry and rate limits are handled here."""
        return self._call("POST", path, None, body)

    # --- the APIs the connector uses ------------------------------------------------------------

    def order(self, order_id: str) -> dict[str, Any]:
        """``order/get``: the order; :class:`NotFound` when the store has no such order."""
        try:
            answer = self.call("/channels/ec/order/get", {"order_id": order_id})
        except StoreApiError as error:
            if error.errcode == ORDER_NOT_FOUND:
                raise NotFound(f"the store has no order {order_id}", field="order_id") from None
            raise
        return dict(answer.get("order") or {})

    def after_sale(self, after_sale_order_id: str) -> dict[str, Any]:
        """``aftersale/getaftersaleorder``: one after-sale (refund) of an order."""
        answer = self.call(
            "/channels/ec/aftersale/getaftersaleorder", {"after_sale_order_id": after_sale_order_id}
        )
        return dict(answer.get("after_sale_order") or {})

    def product_category_ids(self, product_id: str) -> list[str]:
        """``product/get``: the product's category ids, top level first (``cats_v2``)."""
        answer = self.call("/channels/ec/product/get", {"product_id": product_id, "data_type": 1})
        product = answer.get("product") or answer.get("edit_product") or {}
        return [
            str(cat.get("cat_id"))
            for cat in product.get("cats_v2") or product.get("cats") or []
            if cat.get("cat_id")
        ]

    def category_name(self, cat_id: str) -> str:
        """``category/detail``: a category's name."""
        answer = self.call("/channels/ec/category/detail", {"cat_id": cat_id})
        return str((answer.get("info") or {}).get("name") or cat_id)

    def funds_flow_ids(self, start: datetime, end: datetime) -> Iterator[str]:
        """``funds/getfundsflowlist``: the ids of the flows booked in [start, end), every page."""
        page, next_key = 1, ""
        while True:
            body: dict[str, Any] = {
                "page": page,
                "page_size": FLOW_PAGE_SIZE,
                "start_time": int(start.timestamp()),
                "end_time": int(end.timestamp()),
            }
            if next_key:
                body["next_key"] = next_key
            answer = self.call("/channels/ec/funds/getfundsflowlist", body)
            yield from (str(flow_id) for flow_id in answer.get("flow_ids") or [])
            if not answer.get("has_more"):
                return
            page, next_key = page + 1, str(answer.get("next_key") or "")

    def funds_flow(self, flow_id: str) -> dict[str, Any]:
        """``funds/getfundsflowdetail``: one flow, as the store reports it (read with ``flows.read_flow``)."""
        return dict(
            self.call("/channels/ec/funds/getfundsflowdetail", {"flow_id": flow_id}).get("funds_flow") or {}
        )
