"""What the order services need from storage and messaging; adapters live in ``incentives.storage``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from incentives.orders.aggregate import OrderState
from incentives.webhook.models import QueuedEvent


@dataclass(frozen=True)
class DueOrder:
    corp_id: str
    order_id: str
    window_closes_at: datetime


class OrderRepository(Protocol):
    def get(self, corp_id: str, order_id: str) -> OrderState | None:
        """The stored state, or None when nothing was received for the order yet."""
        ...

    def save(self, state: OrderState, expected_version: int) -> None:
        """Store ``state`` if the stored version is still ``expected_version``.

        Raises ``ConcurrentModification`` when another writer got there first.
        """
        ...

    def orders_past_window(self, now: datetime) -> Sequence[DueOrder]:
        """Completed orders whose after-sales window closed at or before ``now`` (all tenants, no cap)."""
        ...

    def due_order(self, entry: dict[str, Any]) -> DueOrder:
        """The order a due entry of the window-closing queue describes."""
        ...


class EventQueue(Protocol):
    def send(self, events: Sequence[QueuedEvent]) -> None:
        """Put events on the inbound events queue; raises if any could not be sent."""
        ...


@dataclass(frozen=True)
class RawEvent:
    corp_id: str
    event_id: str
    event_type: str
    body: str
    body_sha256: str
    received_at: datetime


class RawEventStore(Protocol):
    def keep(self, raw: RawEvent) -> bool:
        """Keep the raw event for audit. True if new, False if the same body was kept before.

        Raises ``Conflict`` when the event id was kept before with another body.
        """
        ...
