"""Order services: apply queued events to the aggregate; find orders whose window closed."""

from __future__ import annotations

from datetime import datetime

from incentives.core.errors import ConcurrentModification
from incentives.messages.internal import AfterSalesWindowClosed, AfterSalesWindowClosedEvent
from incentives.messages.queued import EventQueue, QueuedEvent
from incentives.orders.aggregate import AfterSalesWindow, OrderFact, OrderState, apply_fact
from incentives.orders.ports import DueOrder, OrderRepository

MAX_WRITE_ATTEMPTS = 5


def apply_order_event(
    repository: OrderRepository,
    corp_id: str,
    event_id: str,
    fact: OrderFact,
    window: AfterSalesWindow,
) -> OrderState:
    """Apply one order event exactly once in effect, re-reading on a lost optimistic race."""
    for _ in range(MAX_WRITE_ATTEMPTS):
        current = repository.get(corp_id, fact.order_id) or OrderState(
            corp_id=corp_id, order_id=fact.order_id
        )
        updated = apply_fact(current, event_id, fact, window)
        if updated is current:
            return current
        try:
            repository.save(updated, expected_version=current.version)
        except ConcurrentModification:
            continue
        return updated
    raise ConcurrentModification(f"order {fact.order_id}: too many concurrent writers, retry later")


def window_closed_event_id(order_id: str) -> str:
    """Deterministic: the job may emit it on every run until it is applied; it counts once."""
    return f"after-sales-window-closed:{order_id}"


def window_closed_event(order: DueOrder, now: datetime) -> QueuedEvent:
    """``order.after_sales_window_closed`` for an order whose window has passed."""
    return QueuedEvent(
        corp_id=order.corp_id,
        received_at=now,
        event=AfterSalesWindowClosedEvent(
            event_id=window_closed_event_id(order.order_id),
            type="order.after_sales_window_closed",
            occurred_at=now,
            data=AfterSalesWindowClosed(order_id=order.order_id, closed_at=now),
        ),
    )


def close_window(queue: EventQueue, order: DueOrder, now: datetime) -> bool:
    """The window-closing job's unit: emit the event for one order (True), or nothing when its
    window has not passed yet (False).

    The job writes nothing itself: the event processor applies the event to the aggregate
    (one writer per aggregate), so a crash between emitting and applying loses nothing and
    a re-emission is deduplicated by its deterministic id.
    """
    if order.window_closes_at > now:
        return False
    queue.send([window_closed_event(order, now)])
    return True


def emit_window_closed_events(repository: OrderRepository, queue: EventQueue, now: datetime) -> int:
    """Emit the event for every completed order whose window has passed, here and now (no cap;
    sent 10 per batch); returns how many were emitted. The scheduled job fans the same unit out."""
    events = [window_closed_event(order, now) for order in repository.orders_past_window(now)]
    if events:
        queue.send(events)
    return len(events)
