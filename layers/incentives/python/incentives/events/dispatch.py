"""Which domain area applies which queued event.

Each consumer is idempotent on the event id. Event types with no consumer yet are kept
(the webhook stored them raw) and acknowledged, so modules added later can replay them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from incentives.orders.aggregate import AfterSalesWindow
from incentives.orders.ports import OrderRepository
from incentives.orders.service import apply_order_event
from incentives.webhook.models import (
    AfterSalesWindowClosed,
    OrderCompleted,
    OrderPaid,
    OrderRefunded,
    QueuedEvent,
    WeComCallbackData,
)

ORDER_FACTS = (OrderPaid, OrderRefunded, OrderCompleted, AfterSalesWindowClosed)

WeComConsumer = Callable[[str, str, WeComCallbackData, datetime], str]
"""(corp id, event id, callback, received at) → what was done."""


@dataclass(frozen=True)
class Outcome:
    event_id: str
    event_type: str
    consumer: str | None
    detail: str


@dataclass(frozen=True)
class Consumers:
    """The domain areas that consume queued events, wired by the processor."""

    orders: OrderRepository
    window: AfterSalesWindow
    wecom: WeComConsumer


def apply_queued_event(queued: QueuedEvent, consumers: Consumers) -> Outcome:
    event = queued.event
    if isinstance(event.data, ORDER_FACTS):
        state = apply_order_event(
            consumers.orders, queued.corp_id, event.event_id, event.data, consumers.window
        )
        return Outcome(
            event.event_id, event.type, "orders", f"order {state.order_id} is {state.status.value}"
        )
    if isinstance(event.data, WeComCallbackData):
        detail = consumers.wecom(queued.corp_id, event.event_id, event.data, queued.received_at)
        return Outcome(event.event_id, event.type, "wecom", detail)
    return Outcome(event.event_id, event.type, None, "kept; no consumer for this type yet")
