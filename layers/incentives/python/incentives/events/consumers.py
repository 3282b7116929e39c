"""The consumers of queued events, built from their ports.

The event processor builds them from the AWS adapters (``incentives.runtime.wiring``); the
simulation builds the very same consumers from in-memory adapters and a simulated clock, so
a consumer added here reaches both. Each domain module is imported when its event first
arrives, which keeps the processor's cold start small (SPEC §6).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from incentives.core.clock import Clock
from incentives.events.dispatch import Consumers
from incentives.orders.aggregate import AfterSalesWindow, OrderState
from incentives.orders.ports import OrderRepository

if TYPE_CHECKING:
    from incentives.affiliates.earnings import AffiliateEffects
    from incentives.guides.triggers import Trigger
    from incentives.payouts.service import PayoutQueue
    from incentives.storage.ledger import LedgerRepository
    from incentives.storage.payouts import PayoutRepository
    from incentives.storage.table import Table
    from incentives.webhook.models import OrderPaid, QueuedEvent, WeComCallbackData


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


def build_consumers(ports: EventPorts) -> Consumers:
    """Every consumer of the event backbone, over ``ports``."""

    def affiliate_effects() -> AffiliateEffects:
        from incentives.affiliates.earnings import AffiliateEffects

        return AffiliateEffects(table=ports.table, ledger=ports.ledger, time_zone=ports.time_zone)

    def wecom(corp_id: str, event_id: str, callback: WeComCallbackData, received_at: datetime) -> str:
        from incentives.wecom.acquisition import WeComEffects, apply_callback

        effects = WeComEffects(table=ports.table, client=ports.wecom_client, emit=ports.emit)
        return apply_callback(effects, corp_id, event_id, callback, received_at)

    def guides(corp_id: str, trigger: Trigger) -> str:
        from incentives.guides.service import GuideEffects, grant

        effects = GuideEffects(
            table=ports.table,
            payouts=ports.payouts,
            queue=ports.payout_queue,
            openid_of=lambda corp, user_id: str(ports.wecom_client(corp).convert_to_openid(user_id)),
            time_zone=ports.time_zone,
        )
        return grant(effects, corp_id, trigger)

    def affiliate_orders(corp_id: str, state: OrderState) -> str:
        from incentives.affiliates.earnings import follow_order

        return follow_order(affiliate_effects(), corp_id, state, ports.clock.now())

    def payments(corp_id: str, event_id: str, payment: OrderPaid) -> tuple[OrderState, str]:
        from incentives.affiliates.earnings import apply_payment

        return apply_payment(affiliate_effects(), corp_id, event_id, payment, ports.window, ports.clock.now())

    def affiliates(corp_id: str, event_id: str, fact: Any) -> str:
        from incentives.affiliates.membership import record_member, record_profile, record_recharge
        from incentives.affiliates.referrals import bind
        from incentives.webhook.models import MemberRegistered, RechargePaid, ReferralClicked

        now = ports.clock.now()
        if isinstance(fact, ReferralClicked):
            from incentives.affiliates.earnings import attribute_late_click

            bound = bind(ports.table, corp_id, event_id, fact, now, time_zone=ports.time_zone)
            late = attribute_late_click(affiliate_effects(), corp_id, fact.customer_id, fact.clicked_at, now)
            return bound + (f"; orders attributed late: {', '.join(late)}" if late else "")
        if isinstance(fact, MemberRegistered):
            return record_member(
                ports.table, corp_id, fact, now, time_zone=ports.time_zone, event_id=event_id
            )
        if isinstance(fact, RechargePaid):
            return record_recharge(
                ports.table, corp_id, fact, now, time_zone=ports.time_zone, event_id=event_id
            )
        return record_profile(ports.table, corp_id, fact)

    def org_sync(corp_id: str) -> str:
        from incentives.org.service import run_requested_sync

        return run_requested_sync(ports.table, ports.wecom_client(corp_id), ports.clock.now())

    def subsidy(corp_id: str, event_id: str, fact: Any, state: OrderState | None) -> str:
        from incentives.storage.subsidy import TableSubsidyRepository
        from incentives.subsidy import service
        from incentives.webhook.models import (
            AfterSalesWindowClosed,
            OrderFlagged,
            OrderPaid,
            OrderSourceUpdated,
        )

        subsidy_ports = service.SubsidyPorts(
            TableSubsidyRepository(ports.table, ports.time_zone), ports.time_zone
        )
        if isinstance(fact, OrderPaid):
            return service.on_payment(subsidy_ports, corp_id, event_id, fact)
        if isinstance(fact, AfterSalesWindowClosed) and state is not None:
            return service.on_window_closed(subsidy_ports, corp_id, event_id, state)
        if isinstance(fact, OrderSourceUpdated):
            return service.on_source_updated(subsidy_ports, corp_id, event_id, fact)
        if isinstance(fact, OrderFlagged):
            return service.on_flagged(subsidy_ports, corp_id, event_id, fact)
        return "nothing for the subsidy"

    return Consumers(
        orders=ports.orders,
        window=ports.window,
        wecom=wecom,
        guides=guides,
        affiliate_orders=affiliate_orders,
        payments=payments,
        affiliates=affiliates,
        org_sync=org_sync,
        subsidy=subsidy,
    )
