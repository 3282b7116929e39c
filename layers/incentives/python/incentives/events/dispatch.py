"""Which domain area applies which queued event.

Each consumer is idempotent on the event id. Event types with no consumer yet are kept
(the webhook stored them raw) and acknowledged, so modules added later can replay them.
"""

from __future__ import annotations

from dataclasses import dataclass

from incentives.orders.aggregate import AfterSalesWindow
from incentives.orders.ports import OrderRepository
from incentives.orders.service import apply_order_event
from incentives.webhook.models import (
    AfterSalesWindowClosed,
    OrderCompleted,
    OrderPaid,
    OrderRefunded,
    QueuedEvent,
)

ORDER_FACTS = (OrderPaid, OrderRefunded, OrderCompleted, AfterSalesWindowClosed)


@dataclass(frozen=True)
class Outcome:
    event_id: str
    event_type: str
    consumer: str | None
    detail: str


def apply_queued_event(queued: QueuedEvent, orders: OrderRepository, window: AfterSalesWindow) -> Outcome:
    event = queued.event
    if isinstance(event.data, ORDER_FACTS):
        state = apply_order_event(orders, queued.corp_id, event.event_id, event.data, window)
        return Outcome(
            event.event_id, event.type, "orders", f"order {state.order_id} is {state.status.value}"
        )
    return Outcome(event.event_id, event.type, None, "kept; no consumer for this type yet")
