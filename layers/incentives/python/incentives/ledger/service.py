"""Ledger services that run on a schedule."""

from __future__ import annotations

from datetime import datetime

from incentives.ledger import postings
from incentives.ledger.ports import HoldBook


def settle_holds_past(ledger: HoldBook, now: datetime, limit: int = 1000) -> int:
    """Settle every credit whose hold has passed; returns how many holds were closed.

    Each settlement has the deterministic id ``settle:<credit>``, so a run that crashed half
    way and runs again settles nothing twice.
    """
    settled = 0
    for hold in ledger.holds_due(now, limit):
        if hold.hold_until is None or hold.hold_until > now:
            continue
        if ledger.settle(hold, postings.settlement(hold, now), now):
            settled += 1
    return settled
