"""What the payout services need from storage and messaging; the adapter is ``incentives.storage.payouts``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from incentives.ledger.model import Entry
from incentives.payouts.model import Payout


class PayoutQueue(Protocol):
    def send(self, corp_id: str, payout_id: str, generation: int) -> None: ...


class Payouts(Protocol):
    """Payouts and the ledger entries that move with them (one transaction each)."""

    def create(self, payout: Payout, entries: Sequence[Entry]) -> bool:
        """Store a new payout with its entries; False if it exists. Raises ``InsufficientBalance``."""
        ...

    def save(self, payout: Payout, expected_version: int, entries: Sequence[Entry] = ()) -> None:
        """Store a transition (and its entries) if the payout is still ``expected_version``; raises
        ``ConcurrentModification`` otherwise (or the ledger's refusal)."""
        ...

    def get(self, corp_id: str, payout_id: str) -> Payout | None: ...

    def open_since(self, before: datetime) -> Sequence[Payout]:
        """Open or unresolved payouts (all tenants, no cap) untouched since ``before``."""
        ...

    def awaiting_due(self, now: datetime) -> Sequence[Payout]:
        """Transfers waiting for their payee (all tenants, no cap) whose check is due by ``now``."""
        ...

    def due_payout(self, entry: dict[str, Any]) -> tuple[str, str]:
        """``(corp_id, payout_id)`` of a due entry of the reconciler's queues."""
        ...
