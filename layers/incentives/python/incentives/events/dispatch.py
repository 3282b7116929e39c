"""Which domain area applies which queued event.

Each consumer is idempotent on the event id. Event types with no consumer yet are kept
(the webhook stored them raw) and acknowledged, so modules added later can replay them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from incentives.guides.triggers import (
    Trigger,
    trigger_for_behavior,
    trigger_for_coupon,
    trigger_for_new_customer,
)
from incentives.orders.aggregate import AfterSalesWindow
from incentives.orders.ports import OrderRepository
from incentives.orders.service import apply_order_event
from incentives.webhook.models import (
    AfterSalesWindowClosed,
    CouponRedeemed,
    CustomerBehavior,
    GuideAcquiredCustomer,
    OrderCompleted,
    OrderPaid,
    OrderRefunded,
    QueuedEvent,
    WeComCallbackData,
)

ORDER_FACTS = (OrderPaid, OrderRefunded, OrderCompleted, AfterSalesWindowClosed)

WeComConsumer = Callable[[str, str, WeComCallbackData, datetime], str]
GuideConsumer = Callable[[str, "Trigger"], str]
"""(corp id, trigger) → what was granted."""
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
    guides: GuideConsumer


def apply_queued_event(queued: QueuedEvent, consumers: Consumers) -> Outcome:
    event = queued.event
    if isinstance(event.data, ORDER_FACTS):
        state = apply_order_event(
            consumers.orders, queued.corp_id, event.event_id, event.data, consumers.window
        )
        return Outcome(
            event.event_id, event.type, "orders", f"order {state.order_id} is {state.status.value}"
        )
    trigger = guide_trigger(event.event_id, event.data)
    if trigger is not None:
        return Outcome(event.event_id, event.type, "guides", consumers.guides(queued.corp_id, trigger))
    if isinstance(event.data, WeComCallbackData):
        detail = consumers.wecom(queued.corp_id, event.event_id, event.data, queued.received_at)
        return Outcome(event.event_id, event.type, "wecom", detail)
    return Outcome(event.event_id, event.type, None, "kept; no consumer for this type yet")


def guide_trigger(event_id: str, data: object) -> Trigger | None:
    """The guide-incentive trigger an event carries, if any (seed 000's behaviors)."""
    if isinstance(data, GuideAcquiredCustomer) and data.new_customer:
        return trigger_for_new_customer(event_id, data.customer_id, data.guide_id, data.acquired_at)
    if isinstance(data, CouponRedeemed):
        return trigger_for_coupon(
            event_id, data.coupon_code, data.customer_id, data.guide_id, data.redeemed_at
        )
    if isinstance(data, CustomerBehavior) and data.guide_id:
        return trigger_for_behavior(
            event_id, data.behavior, data.customer_id, data.guide_id, data.occurred_at
        )
    return None
