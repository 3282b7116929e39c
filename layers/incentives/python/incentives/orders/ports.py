"""What the order services need from storage; adapters live in ``incentives.storage``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from incentives.orders.aggregate import OrderState


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
