"""What the scheduled ledger service needs from storage; the adapter is ``incentives.storage.ledger``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from incentives.ledger.model import Entry
from incentives.ledger.postings import Hold


class SettlementLedger(Protocol):
    def holds_due(self, now: datetime) -> Sequence[Hold]:
        """Holds whose ``hold_until`` is at or before ``now`` (all tenants, no cap)."""
        ...

    def hold_from_due(self, entry: dict[str, Any]) -> Hold:
        """The hold a due entry of the settlement queue describes."""
        ...

    def settle(self, hold: Hold, entry: Entry | None, at: datetime) -> bool:
        """Close ``hold`` with its settlement entry if it still holds what was read; False otherwise."""
        ...
