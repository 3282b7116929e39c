"""What the ledger's services need from storage; the adapter is ``incentives.storage.ledger``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from incentives.ledger.model import Entry
from incentives.ledger.postings import Hold


class HoldBook(Protocol):
    """The holds of credits waiting out their after-sales window, and closing them."""

    def holds_due(self, now: datetime, limit: int = 1000) -> Sequence[Hold]:
        """Holds whose ``hold_until`` is at or before ``now`` (all tenants)."""
        ...

    def settle(self, hold: Hold, entry: Entry | None, at: datetime) -> bool:
        """Close a hold, posting its settlement entry if anything remains; False when the hold
        changed meanwhile (the next run sees it)."""
        ...
