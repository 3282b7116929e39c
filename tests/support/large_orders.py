"""A large order and its refunds as the merchant sends them to the webhook (the order with long
product names, which the contract ignores) and as the events queue delivers them, for the tests
and the bench."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

PRODUCT_NAME = "冬季加厚保暖羽绒服男款中长款连帽白鸭绒外套 · 经典黑 · XL 码（赠送收纳袋与洗护套装）"
"""A long product name, as a merchant's order system sends it with each line (about 130 bytes)."""


def line(index: int) -> dict[str, Any]:
    return {
        "line_id": f"L{index:05d}",
        "product_id": f"sku-{index:05d}",
        "category_path": ["服饰", "男装"],
        "quantity": 1,
        "payable_fen": 1_000 + index,
        "paid_fen": 1_000 + index,
        "discount_fen": 0,
        "points_fen": 0,
        "balance_fen": 0,
    }


def queued(
    corp_id: str, event_type: str, event_id: str, at: datetime, data: dict[str, Any]
) -> dict[str, Any]:
    """A received message of the events queue carrying one event."""
    body = json.dumps(
        {
            "corp_id": corp_id,
            "received_at": at.isoformat(),
            "event": {"event_id": event_id, "type": event_type, "occurred_at": at.isoformat(), "data": data},
        },
        ensure_ascii=False,
    )
    return {
        "MessageId": event_id,
        "ReceiptHandle": event_id,
        "Body": body,
        "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
    }


def large_order_events(
    order_id: str, lines: int, refunds: int, paid_at: datetime, *, names: bool = False
) -> list[dict[str, Any]]:
    """The events of ``order.paid`` with ``lines`` lines (each with a long product name when
    ``names``), then ``refunds`` refunds that each refund a share of the lines in full (together:
    every line)."""
    every = [line(index) for index in range(lines)]
    sent = [dict(item, product_name=f"{PRODUCT_NAME} #{index}") for index, item in enumerate(every)]
    paid = {
        "order_id": order_id,
        "customer_id": f"oUnion-{order_id}",
        "store_id": "store-sh-jingan",
        "paid_at": paid_at.isoformat(),
        "source": {"scene": "direct"},
        "lines": sent if names else every,
    }
    events = [_event("order.paid", f"paid-{order_id}", paid_at, paid)]
    for number in range(refunds):
        at = paid_at + timedelta(hours=number + 1)
        data = {
            "order_id": order_id,
            "refund_id": f"R{number:02d}",
            "refunded_at": at.isoformat(),
            "lines": [
                {"line_id": item["line_id"], "refund_fen": item["paid_fen"]}
                for item in every[number::refunds]
            ],
        }
        events.append(_event("order.refunded", f"refund-{order_id}-R{number:02d}", at, data))
    return events


def _event(event_type: str, event_id: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": event_id, "type": event_type, "occurred_at": at.isoformat(), "data": data}


def large_order(
    corp_id: str, order_id: str, lines: int, refunds: int, paid_at: datetime
) -> list[dict[str, Any]]:
    """:func:`large_order_events` as received messages of the events queue."""
    return [
        queued(
            corp_id,
            event["type"],
            event["event_id"],
            datetime.fromisoformat(event["occurred_at"]),
            event["data"],
        )
        for event in large_order_events(order_id, lines, refunds, paid_at)
    ]


def total_paid(lines: int) -> int:
    return sum(line(index)["paid_fen"] for index in range(lines))
