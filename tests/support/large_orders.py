"""A large order and its refunds as the events queue delivers them (too large for the webhook's
body limit: a store sync or a claim check brings such an order in), for the test and the bench."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any


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


def large_order(
    corp_id: str, order_id: str, lines: int, refunds: int, paid_at: datetime
) -> list[dict[str, Any]]:
    """``order.paid`` with ``lines`` lines, then ``refunds`` refunds that each refund a share of
    the lines in full (together: every line)."""
    every = [line(index) for index in range(lines)]
    paid = {
        "order_id": order_id,
        "customer_id": f"oUnion-{order_id}",
        "store_id": "store-sh-jingan",
        "paid_at": paid_at.isoformat(),
        "source": {"scene": "direct"},
        "lines": every,
    }
    messages = [queued(corp_id, "order.paid", f"paid-{order_id}", paid_at, paid)]
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
        messages.append(queued(corp_id, "order.refunded", f"refund-{order_id}-R{number:02d}", at, data))
    return messages


def total_paid(lines: int) -> int:
    return sum(line(index)["paid_fen"] for index in range(lines))
