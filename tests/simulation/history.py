"""What happened in a simulated world, as the world's participants saw it.

The oracle computes what the ledger should say from this record alone: the events each
participant sent and when the product first applied them, the answers it gave to requests
(a withdrawal accepted or refused, a review done), and the direct ledger operations whose
write committed. Nothing here is read back from the product's tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from incentives.ledger.model import Account


@dataclass
class History:
    timeline: list[tuple[str, Any]] = field(default_factory=list)
    """("click" | "paid", fact) in the order the product first applied them."""
    orders: dict[str, Any] = field(default_factory=dict)
    """order id → the OrderPaid the merchant's system will send (sent or not yet)."""
    refunds: dict[str, Any] = field(default_factory=dict)
    """refund id → OrderRefunded."""
    completions: dict[str, list[datetime]] = field(default_factory=dict)
    """order id → every completion time the merchant's system sent."""
    behaviors: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    """event id → (guide id, when): customer behaviors a guide earns on."""
    credits: list[tuple[Account, str, int]] = field(default_factory=list)
    reversals: list[tuple[Account, int]] = field(default_factory=list)
    clawbacks: list[tuple[Account, int]] = field(default_factory=list)
    payouts: list[tuple[Account, str, int]] = field(default_factory=list)
    """Payouts requested directly (account, source, amount) whose reserve committed."""
    withdrawals: dict[str, tuple[str, int]] = field(default_factory=dict)
    """withdrawal id → (affiliate, amount): requests the product accepted."""
    reviews: dict[str, str] = field(default_factory=dict)
    """withdrawal id → its last review outcome: rejected | approved_manual | paid_manually | approved_auto."""
    payee: dict[str, str] = field(default_factory=dict)
    """cause (withdrawal id, or the source of a direct payout to an affiliate) → what its payee did
    with the WeChat Pay transfer shown to them: confirmed | declined (a transfer never confirmed is
    closed unpaid at its deadline)."""
    applied: set[str] = field(default_factory=set)
    """Event ids the product has applied at least once (the first application is on the timeline)."""

    def applied_first(self, event_id: str, kind: str, fact: Any) -> None:
        if event_id not in self.applied:
            self.applied.add(event_id)
            self.timeline.append((kind, fact))
