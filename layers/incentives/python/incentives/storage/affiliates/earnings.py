"""Commissions' entry points on the table (SPEC §4.4 "Lifecycle"): the event processor and the
simulation call these with :class:`AffiliateEffects`.

The rules are in ``affiliates.payment`` (``order.paid`` in three round trips),
``affiliates.lifecycle`` (following an order's state), ``affiliates.refunds``,
``affiliates.late_clicks`` and ``affiliates.attribution``, over ``affiliates.ports.Earnings``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from incentives.affiliates import following, late_clicks, lifecycle, payment
from incentives.affiliates.commission import account, credit_id
from incentives.affiliates.ports import Earnings
from incentives.affiliates.refunds import share_lines
from incentives.orders.aggregate import AfterSalesWindow, OrderFact, OrderState
from incentives.storage.affiliates import TableAffiliates
from incentives.storage.ledger import LedgerRepository
from incentives.storage.orders import TableOrderRepository
from incentives.storage.table import Table
from incentives.webhook.models import OrderPaid


@dataclass(frozen=True)
class AffiliateEffects:
    table: Table
    ledger: LedgerRepository
    time_zone: str

    def ports(self) -> Earnings:
        return Earnings(
            TableAffiliates(self.table), TableOrderRepository(self.table), self.ledger, self.time_zone
        )


def follow_order(effects: AffiliateEffects, corp_id: str, state: OrderState, now: datetime) -> str:
    """Bring commissions in line with the order's state (idempotent)."""
    return lifecycle.follow_order(effects.ports(), corp_id, state, now)


def apply_payment(
    effects: AffiliateEffects,
    corp_id: str,
    event_id: str,
    order: OrderPaid,
    window: AfterSalesWindow,
    now: datetime,
) -> tuple[OrderState, str]:
    """``order.paid`` in three round trips (``affiliates.payment``)."""
    return payment.apply_payment(effects.ports(), corp_id, event_id, order, window, now)


def apply_order_change(
    effects: AffiliateEffects,
    corp_id: str,
    event_id: str,
    fact: OrderFact,
    window: AfterSalesWindow,
    now: datetime,
) -> tuple[OrderState, str]:
    """A refund or a completion, on the order then its commissions
    (``affiliates.following``: two round trips for a refund or a completion)."""
    return following.apply_order_change(effects.ports(), corp_id, event_id, fact, window, now)


def attribute_late_click(
    effects: AffiliateEffects, corp_id: str, customer_id: str, clicked_at: datetime, now: datetime
) -> list[str]:
    """Orders decided with nobody bound, decided again after a late click (``affiliates.late_clicks``)."""
    return late_clicks.attribute_late_click(effects.ports(), corp_id, customer_id, clicked_at, now)


__all__ = [
    "AffiliateEffects",
    "account",
    "apply_order_change",
    "apply_payment",
    "attribute_late_click",
    "credit_id",
    "follow_order",
    "share_lines",
]
