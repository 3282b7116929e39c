"""Ledger services that run on a schedule."""

from __future__ import annotations

from datetime import datetime

from incentives.ledger import postings
from incentives.ledger.ports import SettlementLedger
from incentives.ledger.postings import Hold


def settle_hold(ledger: SettlementLedger, hold: Hold, now: datetime) -> bool:
    """Settle one credit whose hold has passed (the settlement job's unit); True if it settled.

    The settlement has the deterministic id ``settle:<credit>`` and the hold is closed only while
    it still holds what was read, so a repeat (an SQS redelivery, a second run) settles nothing
    twice, and a hold a refund changed meanwhile is left to the next run.
    """
    if hold.hold_until is None or hold.hold_until > now:
        return False
    return ledger.settle(hold, postings.settlement(hold, now), now)


def settle_holds_past(ledger: SettlementLedger, now: datetime) -> int:
    """Settle every credit whose hold has passed, here and now (no cap); returns how many holds
    were closed. The scheduled job fans the same units out instead (``incentives.fanout``)."""
    return sum(1 for hold in ledger.holds_due(now) if settle_hold(ledger, hold, now))
