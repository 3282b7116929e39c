"""What a payment provider answers, reduced to what the payout pipeline must decide on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from incentives.payouts.model import Payout


class Outcome(StrEnum):
    SUCCESS = "success"
    """The money moved."""
    FAILED = "failed"
    """Definitely not moved, and retrying will not help (e.g. NOTENOUGH, a bad openid)."""
    AMBIGUOUS = "ambiguous"
    """Unknown (timeout, SYSTEMERROR, an unexpected answer): query with the same number."""
    NOT_FOUND = "not_found"
    """(query) The provider has no transfer under this number: it may be sent."""
    PROCESSING = "processing"
    """(query) The provider is still moving it: ask again later."""


@dataclass(frozen=True)
class ProviderResult:
    outcome: Outcome
    code: str = ""
    reason: str = ""
    transaction_id: str | None = None
    paid_at: datetime | None = None


class PayoutProvider(Protocol):
    def transfer(self, payout: Payout) -> ProviderResult:
        """Ask the provider to move the payout's money, under the payout id as its number."""
        ...

    def query(self, payout: Payout) -> ProviderResult:
        """Ask what became of the transfer numbered by the payout id."""
        ...
