"""The event backbone's one dispatch: consumers subscribe per event type; a queued event goes to
the consumers of its type.

Each consumer is idempotent on the event id. Event types with no consumer yet are kept
(the webhook stored them raw) and acknowledged, so modules added later can replay them.
A consumer that finds nothing to do for a particular event (a customer that was not new)
answers ``None``: for that event it is as if nobody had subscribed.

The event processor (``runtime.wiring.consumers``), the simulation and the tests all build
the same subscriptions (``incentives.events.consumers.build_consumers``) and dispatch through
:func:`apply_queued_event`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from incentives.messages.queued import QUEUED_EVENT_TYPES, QueuedEvent

KEPT = "kept; no consumer for this type yet"


@dataclass(frozen=True)
class Delivery:
    """One queued event as a consumer receives it."""

    corp_id: str
    event_id: str
    event_type: str
    data: Any
    """The event's data model (``OrderPaid``, ``WeComCallbackData``, …), as its type says."""
    received_at: datetime

    @classmethod
    def of(cls, queued: QueuedEvent) -> Delivery:
        event = queued.event
        return cls(queued.corp_id, event.event_id, event.type, event.data, queued.received_at)


Consumer = Callable[[Delivery], str | None]
"""A delivery → what was done, or None when the event asks nothing of this consumer."""


@dataclass(frozen=True)
class Outcome:
    event_id: str
    event_type: str
    consumer: str | None
    detail: str


@dataclass(frozen=True)
class Subscription:
    name: str
    """The consumer's area, as logged (``orders``, ``guides``, …)."""
    consume: Consumer


@dataclass
class Consumers:
    """Who consumes which event type, in the order they subscribed."""

    by_type: dict[str, list[Subscription]] = field(default_factory=dict)

    def subscribe(self, event_type: str, name: str, consume: Consumer) -> None:
        """``consume`` receives every queued event of ``event_type`` (after earlier subscribers)."""
        if event_type not in QUEUED_EVENT_TYPES:
            raise ValueError(f"{event_type!r} is not a queued event type (incentives.messages.queued)")
        self.by_type.setdefault(event_type, []).append(Subscription(name, consume))

    def subscriptions(self, event_type: str) -> list[Subscription]:
        return list(self.by_type.get(event_type, ()))


def apply_queued_event(queued: QueuedEvent, consumers: Consumers) -> Outcome:
    """Hand the event to each consumer of its type, in turn. A consumer that raises stops the rest;
    the queue redelivers the event and the ones that ran before recognise its id."""
    delivery = Delivery.of(queued)
    names: list[str] = []
    details: list[str] = []
    for subscription in consumers.subscriptions(delivery.event_type):
        detail = subscription.consume(delivery)
        if detail is not None:
            names.append(subscription.name)
            details.append(detail)
    if not names:
        return Outcome(delivery.event_id, delivery.event_type, None, KEPT)
    return Outcome(delivery.event_id, delivery.event_type, ", ".join(names), "; ".join(details))
