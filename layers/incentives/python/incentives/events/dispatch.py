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
from incentives.orders.aggregate import AfterSalesWindow, OrderState
from incentives.orders.ports import OrderRepository
from incentives.orders.service import apply_order_event
from incentives.webhook.models import (
    AfterSalesWindowClosed,
    CouponRedeemed,
    CustomerBehavior,
    CustomerUpdated,
    GuideAcquiredCustomer,
    MemberRegistered,
    OrderCompleted,
    OrderFlagged,
    OrderPaid,
    OrderRefunded,
    OrderSourceUpdated,
    OrgSyncRequested,
    QueuedEvent,
    RechargePaid,
    ReferralClicked,
    WeComCallbackData,
)

ORDER_FACTS = (OrderPaid, OrderRefunded, OrderCompleted, AfterSalesWindowClosed)
AFFILIATE_FACTS = (ReferralClicked, MemberRegistered, RechargePaid, CustomerUpdated)
SUBSIDY_FACTS = (OrderSourceUpdated, OrderFlagged)
SUBSIDY_ORDER_FACTS = (OrderPaid, AfterSalesWindowClosed)
"""Order facts the subsidy follows, for WeChat Store orders only (no round trip for the others)."""

AffiliateOrderConsumer = Callable[[str, OrderState], str]
"""(corp id, the order's state after the event) → what the commissions did."""
PaymentConsumer = Callable[[str, str, OrderPaid], tuple[OrderState, str]]
"""(corp id, event id, payment) → the order's state and what the commissions did, in one transaction."""
AffiliateConsumer = Callable[
    [str, str, "ReferralClicked | MemberRegistered | RechargePaid | CustomerUpdated"], str
]
"""(corp id, event id, fact) → what was recorded (bindings, activity, invited members)."""

WeComConsumer = Callable[[str, str, WeComCallbackData, datetime], str]
"""(corp id, event id, callback, received at) → what was done."""
OrgSyncConsumer = Callable[[str], str]
"""(corp id) → how the requested organization sync went (its status item keeps the details)."""
GuideConsumer = Callable[[str, "Trigger"], str]
"""(corp id, trigger) → what was granted."""
SubsidyConsumer = Callable[
    [str, str, "OrderPaid | AfterSalesWindowClosed | OrderSourceUpdated | OrderFlagged", "OrderState | None"],
    str,
]
"""(corp id, event id, fact, the order's state after an order fact) → what the subsidy case did."""


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
    affiliate_orders: AffiliateOrderConsumer
    payments: PaymentConsumer
    affiliates: AffiliateConsumer
    org_sync: OrgSyncConsumer
    subsidy: SubsidyConsumer


def apply_queued_event(queued: QueuedEvent, consumers: Consumers) -> Outcome:
    event = queued.event
    if isinstance(event.data, ORDER_FACTS):
        if isinstance(event.data, OrderPaid):  # the order and its commissions in one transaction
            state, commissions = consumers.payments(queued.corp_id, event.event_id, event.data)
        else:
            state = apply_order_event(
                consumers.orders, queued.corp_id, event.event_id, event.data, consumers.window
            )
            commissions = consumers.affiliate_orders(queued.corp_id, state)
        detail = f"order {state.order_id} is {state.status.value}; affiliates: {commissions}"
        if (
            isinstance(event.data, SUBSIDY_ORDER_FACTS)
            and state.paid is not None
            and state.paid.is_wechat_store
        ):
            detail += f"; subsidy: {consumers.subsidy(queued.corp_id, event.event_id, event.data, state)}"
        return Outcome(event.event_id, event.type, "orders", detail)
    if isinstance(event.data, SUBSIDY_FACTS):
        detail = consumers.subsidy(queued.corp_id, event.event_id, event.data, None)
        return Outcome(event.event_id, event.type, "subsidy", detail)
    if isinstance(event.data, AFFILIATE_FACTS):
        detail = consumers.affiliates(queued.corp_id, event.event_id, event.data)
        return Outcome(event.event_id, event.type, "affiliates", detail)
    trigger = guide_trigger(event.event_id, event.data)
    if trigger is not None:
        return Outcome(event.event_id, event.type, "guides", consumers.guides(queued.corp_id, trigger))
    if isinstance(event.data, OrgSyncRequested):
        return Outcome(event.event_id, event.type, "org", consumers.org_sync(queued.corp_id))
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
