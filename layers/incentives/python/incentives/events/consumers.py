"""The consumers of queued events, built from their ports.

The event processor builds them from the AWS adapters (``incentives.runtime.wiring``); the
simulation builds the very same consumers from in-memory adapters and a simulated clock, so
a consumer added here reaches both. Each domain module is imported when its event first
arrives, which keeps the processor's cold start small (SPEC §6).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from incentives.core.clock import Clock
from incentives.core.retry import RetryPolicy
from incentives.events.dispatch import Consumer, Consumers, Delivery
from incentives.guides.triggers import (
    Trigger,
    trigger_for_behavior,
    trigger_for_coupon,
    trigger_for_new_customer,
)
from incentives.messages.internal import GuideAcquiredCustomer
from incentives.orders.aggregate import AfterSalesWindow, OrderState
from incentives.orders.ports import OrderRepository
from incentives.orders.service import apply_order_event
from incentives.storage.table import TransactionConflicted
from incentives.webhook.models import CouponRedeemed, CustomerBehavior

if TYPE_CHECKING:
    from incentives.messages.queued import QueuedEvent
    from incentives.payouts.ports import PayoutQueue
    from incentives.storage.affiliates.earnings import AffiliateEffects
    from incentives.storage.ledger import LedgerRepository
    from incentives.storage.payouts import PayoutRepository
    from incentives.storage.table import Table


class OpenIdSource(Protocol):
    def convert_to_openid(self, user_id: str) -> str: ...


@dataclass(frozen=True)
class EventPorts:
    """What the consumers act on: storage, queues, the tenant's WeCom client, time."""

    table: Table
    ledger: LedgerRepository
    orders: OrderRepository
    payouts: PayoutRepository
    payout_queue: PayoutQueue
    emit: Callable[[list[QueuedEvent]], None]
    """Sends follow-up events (e.g. a WeCom acquisition becoming a guide trigger)."""
    wecom_client: Callable[[str], Any]
    """corp id → the tenant's WeCom API client."""
    clock: Clock
    time_zone: str
    window: AfterSalesWindow
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    """How a consumer that met a transaction conflict is run again (read, decide and write)."""


def build_consumers(ports: EventPorts) -> Consumers:
    """Every consumer of the event backbone, over ``ports``, subscribed to the types it consumes.

    This is the one table of who consumes what: a new consumer is one function and one
    ``subscribe`` line per event type it takes (docs/decisions.md).
    """

    def affiliate_effects() -> AffiliateEffects:
        from incentives.storage.affiliates.earnings import AffiliateEffects

        return AffiliateEffects(table=ports.table, ledger=ports.ledger, time_zone=ports.time_zone)

    def _applied(apply: Callable[..., tuple[OrderState, str]], delivery: Delivery) -> str:
        state, commissions = apply(
            affiliate_effects(),
            delivery.corp_id,
            delivery.event_id,
            delivery.data,
            ports.window,
            ports.clock.now(),
        )
        return _order_detail(state, commissions)

    def payments(delivery: Delivery) -> str:
        """The order and its commissions in one transaction."""
        from incentives.storage.affiliates.earnings import apply_payment

        return _applied(apply_payment, delivery)

    def orders(delivery: Delivery) -> str:
        """A refund or a completion on the order, then on its commissions."""
        from incentives.storage.affiliates.earnings import apply_order_change

        return _applied(apply_order_change, delivery)

    closed: dict[tuple[str, str], OrderState] = {}
    """The order its window-closed event left, for the consumers after ``window_closed`` (one entry)."""

    def window_closed(delivery: Delivery) -> str:
        """The closed window on the order alone (its read and its write). The commissions do not
        depend on the closure: every fact they follow (payment, refunds, completion) came with its
        own event, whose consumer brought them in line before that event was acknowledged."""
        state = apply_order_event(
            ports.orders, delivery.corp_id, delivery.event_id, delivery.data, ports.window
        )
        closed.clear()
        closed[(delivery.corp_id, delivery.event_id)] = state
        return f"order {state.order_id} is {state.status.value}"

    def referral_clicked(delivery: Delivery) -> str:
        from incentives.storage.affiliates.earnings import attribute_late_click
        from incentives.storage.affiliates.referrals import bind

        fact, now = delivery.data, ports.clock.now()
        bound = bind(ports.table, delivery.corp_id, delivery.event_id, fact, now, time_zone=ports.time_zone)
        late = attribute_late_click(
            affiliate_effects(), delivery.corp_id, fact.customer_id, fact.clicked_at, now
        )
        return bound + (f"; orders attributed late: {', '.join(late)}" if late else "")

    def member_registered(delivery: Delivery) -> str:
        from incentives.storage.affiliates.membership import record_member

        return record_member(
            ports.table,
            delivery.corp_id,
            delivery.data,
            ports.clock.now(),
            time_zone=ports.time_zone,
            event_id=delivery.event_id,
        )

    def recharge_paid(delivery: Delivery) -> str:
        from incentives.storage.affiliates.membership import record_recharge

        return record_recharge(
            ports.table,
            delivery.corp_id,
            delivery.data,
            ports.clock.now(),
            time_zone=ports.time_zone,
            event_id=delivery.event_id,
        )

    def customer_updated(delivery: Delivery) -> str:
        from incentives.storage.affiliates.membership import record_profile

        return record_profile(ports.table, delivery.corp_id, delivery.data)

    def guides(delivery: Delivery) -> str | None:
        trigger = guide_trigger(delivery.event_id, delivery.data)
        if trigger is None:
            return None
        from incentives.guides.service import GuideEffects, grant
        from incentives.storage.guides import TableGuideRepository

        effects = GuideEffects(
            guides=TableGuideRepository(ports.table),
            payouts=ports.payouts,
            queue=ports.payout_queue,
            openid_of=lambda corp, user_id: str(ports.wecom_client(corp).convert_to_openid(user_id)),
            time_zone=ports.time_zone,
        )
        return grant(effects, delivery.corp_id, trigger)

    def org_sync(delivery: Delivery) -> str:
        from incentives.org.service import run_requested_sync
        from incentives.storage.org import TableOrgRepository

        return run_requested_sync(
            TableOrgRepository(ports.table), ports.wecom_client(delivery.corp_id), ports.clock.now()
        )

    def wecom(delivery: Delivery) -> str:
        from incentives.contacts.acquisition import WeComEffects, apply_callback
        from incentives.storage.contacts import TableContacts
        from incentives.storage.org import TableOrgRepository

        effects = WeComEffects(
            contacts=TableContacts(ports.table),
            org=TableOrgRepository(ports.table),
            client=ports.wecom_client,
            emit=ports.emit,
        )
        return apply_callback(
            effects, delivery.corp_id, delivery.event_id, delivery.data, delivery.received_at
        )

    def subsidy_ports() -> Any:
        from incentives.storage.subsidy import TableSubsidyRepository
        from incentives.subsidy.service import SubsidyPorts

        return SubsidyPorts(TableSubsidyRepository(ports.table, ports.time_zone), ports.time_zone)

    def subsidy_payment(delivery: Delivery) -> str | None:
        """A WeChat Store order's signals and provisional attribution; no round trip for the others."""
        if not delivery.data.is_wechat_store:
            return None
        from incentives.subsidy.service import on_payment

        return on_payment(subsidy_ports(), delivery.corp_id, delivery.event_id, delivery.data)

    def subsidy_settlement(delivery: Delivery) -> str | None:
        """After the orders consumer closed the window: the subsidy on the settled amount, once."""
        state = closed.pop((delivery.corp_id, delivery.event_id), None) or ports.orders.get(
            delivery.corp_id, delivery.data.order_id
        )
        if state is None or state.paid is None or not state.paid.is_wechat_store:
            return None
        from incentives.subsidy.service import on_window_closed

        return on_window_closed(subsidy_ports(), delivery.corp_id, delivery.event_id, state)

    def subsidy_source(delivery: Delivery) -> str:
        from incentives.subsidy.service import on_source_updated

        return on_source_updated(subsidy_ports(), delivery.corp_id, delivery.event_id, delivery.data)

    def subsidy_flag(delivery: Delivery) -> str:
        from incentives.subsidy.service import on_flagged

        return on_flagged(subsidy_ports(), delivery.corp_id, delivery.event_id, delivery.data)

    consumers = Consumers()

    def subscribe(event_type: str, name: str, consume: Consumer) -> None:
        """Each consumer whole (its reads, its decision, its writes) again on a transaction conflict:
        every consumer is idempotent on the event id, so a retry redoes only what did not commit."""

        def retried(delivery: Delivery) -> str | None:
            return ports.retry.run(lambda: consume(delivery), (TransactionConflicted,))

        consumers.subscribe(event_type, name, retried)

    subscribe("order.paid", "orders", payments)
    for event_type in ("order.refunded", "order.completed"):
        subscribe(event_type, "orders", orders)
    subscribe("order.after_sales_window_closed", "orders", window_closed)
    # after the order's own consumers: the subsidy reads the order they wrote
    subscribe("order.paid", "subsidy", subsidy_payment)
    subscribe("order.after_sales_window_closed", "subsidy", subsidy_settlement)
    subscribe("order.source_updated", "subsidy", subsidy_source)
    subscribe("order.flagged", "subsidy", subsidy_flag)
    subscribe("referral.clicked", "affiliates", referral_clicked)
    subscribe("member.registered", "affiliates", member_registered)
    subscribe("recharge.paid", "affiliates", recharge_paid)
    subscribe("customer.updated", "affiliates", customer_updated)
    for event_type in ("guide.customer_acquired", "coupon.redeemed", "customer.behavior"):
        subscribe(event_type, "guides", guides)
    subscribe("org.sync_requested", "org", org_sync)
    subscribe("wecom.callback", "wecom", wecom)
    return consumers


def _order_detail(state: OrderState, commissions: str) -> str:
    return f"order {state.order_id} is {state.status.value}; affiliates: {commissions}"


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
