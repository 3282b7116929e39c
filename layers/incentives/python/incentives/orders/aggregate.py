"""The order aggregate, a pure fold over the set of events received for one order.

The state depends on *which* events arrived, never on the order they arrived in: a refund
or a completion that comes before the payment is held and takes effect once the payment
arrives (SPEC §3.2, §5). Each event is applied at most once (its id is remembered).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from incentives.messages.internal import AfterSalesWindowClosed
from incentives.orders import DEFAULT_AFTER_SALES_WINDOW_DAYS
from incentives.webhook.models import OrderCompleted, OrderPaid, OrderRefunded

OrderFact = OrderPaid | OrderRefunded | OrderCompleted | AfterSalesWindowClosed


class OrderStatus(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    """Only refunds or a completion arrived so far: they are held until the payment comes."""
    PAID = "paid"
    COMPLETED = "completed"
    """Goods received: the after-sales window is running."""
    CLOSED = "closed"
    """The after-sales window has passed; amounts are final except for later refunds."""


@dataclass(frozen=True)
class AfterSalesWindow:
    """How long after completion a customer may still ask for a refund (维权期)."""

    days: int = DEFAULT_AFTER_SALES_WINDOW_DAYS

    def closes_at(self, completed_at: datetime) -> datetime:
        return completed_at + timedelta(days=self.days)


@dataclass(frozen=True)
class OrderState:
    corp_id: str
    order_id: str
    version: int = 0
    paid: OrderPaid | None = None
    refunds: dict[str, OrderRefunded] = field(default_factory=dict)
    completed: OrderCompleted | None = None
    window_closed: AfterSalesWindowClosed | None = None
    window_closes_at: datetime | None = None
    applied_event_ids: frozenset[str] = frozenset()

    @property
    def status(self) -> OrderStatus:
        if self.paid is None:
            return OrderStatus.AWAITING_PAYMENT
        if self.completed is None:
            return OrderStatus.PAID
        if self.window_closed is None:
            return OrderStatus.COMPLETED
        return OrderStatus.CLOSED

    @property
    def held_event_count(self) -> int:
        """Events received before the payment, waiting for it."""
        if self.paid is not None:
            return 0
        return len(self.refunds) + (1 if self.completed else 0)

    def refunded_fen_by_line(self) -> dict[str, int]:
        """Refunded amount per line, capped at what the line paid (an over-refund is an anomaly)."""
        if self.paid is None:
            return {}
        paid = {line.line_id: line.paid_fen for line in self.paid.lines}
        totals = dict.fromkeys(paid, 0)
        for refund in self.refunds.values():
            for line in refund.lines:
                if line.line_id in totals:
                    totals[line.line_id] += line.refund_fen
        return {line_id: min(total, paid[line_id]) for line_id, total in totals.items()}

    def anomalies(self) -> list[str]:
        """Facts that contradict each other; recorded, never silently dropped."""
        if self.paid is None:
            return []
        found: list[str] = []
        paid = {line.line_id: line.paid_fen for line in self.paid.lines}
        asked = dict.fromkeys(paid, 0)
        for refund in self.refunds.values():
            for line in refund.lines:
                if line.line_id not in paid:
                    found.append(f"refund {refund.refund_id} names unknown line {line.line_id}")
                else:
                    asked[line.line_id] += line.refund_fen
        found.extend(
            f"line {line_id} refunded {asked[line_id]} fen of {paid[line_id]} paid"
            for line_id in paid
            if asked[line_id] > paid[line_id]
        )
        return found

    @property
    def paid_fen(self) -> int:
        return sum(line.paid_fen for line in self.paid.lines) if self.paid else 0

    @property
    def refunded_fen(self) -> int:
        return sum(self.refunded_fen_by_line().values())

    @property
    def awaits_window_close(self) -> bool:
        """True while the hourly job must watch this order (completed, paid, window open)."""
        return self.status is OrderStatus.COMPLETED


def apply_fact(state: OrderState, event_id: str, fact: OrderFact, window: AfterSalesWindow) -> OrderState:
    """Return the state with ``fact`` applied, or ``state`` itself when it adds nothing.

    A repeated event id, a second payment of the same order or a window-closed signal for an
    order that is not (any more) in its window are no-ops, so redelivery is harmless.
    """
    if event_id in state.applied_event_ids:
        return state
    if fact.order_id != state.order_id:
        raise ValueError(f"fact for order {fact.order_id} applied to order {state.order_id}")
    updated: OrderState | None = None
    if isinstance(fact, OrderPaid):
        if state.paid is None:
            updated = replace(state, paid=fact)
    elif isinstance(fact, OrderRefunded):
        if fact.refund_id not in state.refunds:
            updated = replace(state, refunds={**state.refunds, fact.refund_id: fact})
    elif isinstance(fact, OrderCompleted):
        if state.completed is None:
            updated = replace(state, completed=fact)
    elif (
        isinstance(fact, AfterSalesWindowClosed)
        and state.status is OrderStatus.COMPLETED
        and state.window_closes_at is not None
        and fact.closed_at >= state.window_closes_at
    ):
        updated = replace(state, window_closed=fact)
    if updated is None:
        return replace(
            state, applied_event_ids=state.applied_event_ids | {event_id}, version=state.version + 1
        )
    closes_at = window.closes_at(updated.completed.completed_at) if updated.completed else None
    return replace(
        updated,
        window_closes_at=closes_at,
        applied_event_ids=state.applied_event_ids | {event_id},
        version=state.version + 1,
    )
