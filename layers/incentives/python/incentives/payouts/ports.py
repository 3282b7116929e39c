"""What the payout pipeline needs from storage; the adapter is ``incentives.storage.payouts``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from incentives.ledger.model import Entry
from incentives.payouts.model import Payout


class PayoutStore(Protocol):
    def create(self, payout: Payout, entries: Sequence[Entry]) -> bool:
        """Store a new payout with its ledger entries in one transaction. False if it exists.

        Raises ``InsufficientBalance`` when the withdrawable balance cannot carry it.
        """
        ...

    def save(self, payout: Payout, expected_version: int, entries: Sequence[Entry] = ()) -> None:
        """Store a transition (and its ledger entries) if the stored version is still
        ``expected_version``; raises ``ConcurrentModification`` otherwise."""
        ...

    def get(self, corp_id: str, payout_id: str) -> Payout | None: ...

    def open_since(self, before: datetime, limit: int = 500) -> Sequence[Payout]:
        """Open or unresolved payouts (all tenants) not touched since ``before``."""
        ...

    def awaiting_due(self, now: datetime, limit: int = 500) -> Sequence[Payout]:
        """Payouts waiting for their payee (all tenants) whose next check is due by ``now``."""
        ...
