"""Helpers shared by the test suites: building signed requests and sample events."""

from __future__ import annotations

import copy
import json
import socket
import time
from pathlib import Path
from typing import Any

from incentives.webhook.signature import sign

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
LOCAL_SECRET = "local-order-webhook-secret"
LOCAL_CORP = "ww-local-corp"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sample(name: str) -> dict[str, Any]:
    """A sample event file under events/, e.g. ``order_webhook/order_paid``."""
    document: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
    return document


def sample_body(name: str) -> dict[str, Any]:
    """The webhook body inside a sample API event of the order webhook."""
    body: dict[str, Any] = json.loads(sample(f"order_webhook/{name}")["body"])
    return body


def signed_headers(
    raw: bytes, *, secret: str = LOCAL_SECRET, timestamp: int | None = None, corp_id: str | None = LOCAL_CORP
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = {
        "Content-Type": "application/json",
        "X-Timestamp": stamp,
        "X-Signature": sign(secret, stamp, raw),
    }
    if corp_id:
        headers["X-Corp-Id"] = corp_id
    return headers


def webhook_event(body: dict[str, Any] | str | bytes, **signing: Any) -> dict[str, Any]:
    """An API Gateway REST proxy event for POST /webhooks/orders, signed now."""
    raw = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
    headers = signing.pop("headers", None) or signed_headers(raw, **signing)
    event = copy.deepcopy(sample("order_webhook/order_paid"))
    event["body"] = raw.decode()
    event["headers"] = headers
    event["multiValueHeaders"] = {key: [value] for key, value in headers.items()}
    return event


def order_paid(
    order_id: str = "O-1", event_id: str | None = None, paid_fen: int = 10000, **overrides: Any
) -> dict[str, Any]:
    body = sample_body("order_paid")
    body["event_id"] = event_id or f"paid-{order_id}"
    body["data"]["order_id"] = order_id
    body["data"]["lines"] = [
        dict(body["data"]["lines"][0], line_id="L1", paid_fen=paid_fen, payable_fen=paid_fen, discount_fen=0)
    ]
    body["data"].update(overrides)
    return body


def order_refunded(
    order_id: str, refund_id: str, refund_fen: int, event_id: str | None = None
) -> dict[str, Any]:
    body = sample_body("order_refunded")
    body["event_id"] = event_id or f"refund-{refund_id}"
    body["data"].update(
        order_id=order_id, refund_id=refund_id, lines=[{"line_id": "L1", "refund_fen": refund_fen}]
    )
    return body


def order_completed(order_id: str, completed_at: str, event_id: str | None = None) -> dict[str, Any]:
    body = sample_body("order_completed")
    body["event_id"] = event_id or f"completed-{order_id}"
    body["data"].update(order_id=order_id, completed_at=completed_at)
    body["occurred_at"] = completed_at
    return body


def api_event(
    method: str,
    resource: str,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, list[str]] | None = None,
    token: str | None = None,
    body: str | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event for any route, in the documented shape."""
    path = resource
    for name, value in (path_parameters or {}).items():
        path = path.replace("{" + name + "}", value)
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    event = copy.deepcopy(sample("order_webhook/order_paid"))
    event.update(
        resource=resource,
        path=path,
        httpMethod=method,
        body=body,
        headers=headers,
        multiValueHeaders={key: [value] for key, value in headers.items()},
        pathParameters=path_parameters or None,
        queryStringParameters={key: values[-1] for key, values in query.items()} if query else None,
        multiValueQueryStringParameters=query or None,
    )
    event["requestContext"].update(resourcePath=resource, httpMethod=method, path=f"/prod{path}")
    return event


def token_for(
    role: str = "admin",
    subject: str = "ops-1",
    dept_ids: tuple[str, ...] = (),
    corp_id: str = LOCAL_CORP,
    secret: str = "local-api-jwt-secret-for-development-only",
    expired: bool = False,
) -> str:
    from datetime import UTC, datetime, timedelta

    from incentives.core.access import Role, mint_token

    now = datetime.now(UTC) - (timedelta(days=2) if expired else timedelta())
    return mint_token(secret, corp_id, subject, Role(role), now, dept_ids=dept_ids, ttl=timedelta(hours=1))


def paid_fact(
    order_id: str,
    customer_id: str,
    *paid_fen: int,
    paid_at: Any,
    store_id: str = "s1",
    products: tuple[str, ...] = (),
    group_buy: bool = False,
) -> Any:
    """An ``order.paid`` payload (the model), one line per amount; line ``n`` buys ``products[n]``
    or ``p0``."""
    from incentives.webhook.models import OrderLine, OrderPaid, OrderSource

    return OrderPaid(
        order_id=order_id,
        customer_id=customer_id,
        store_id=store_id,
        paid_at=paid_at,
        source=OrderSource(scene="share"),
        is_group_buy=group_buy,
        lines=[
            OrderLine(
                line_id=f"L{n}",
                product_id=products[n] if n < len(products) else "p0",
                category_path=["服饰"],
                quantity=1,
                payable_fen=fen,
                paid_fen=fen,
                discount_fen=0,
                points_fen=0,
                balance_fen=0,
            )
            for n, fen in enumerate(paid_fen)
        ],
    )
