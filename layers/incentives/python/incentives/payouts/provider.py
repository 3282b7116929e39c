"""What a payment provider answers, reduced to what the payout pipeline must decide on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from incentives.payouts.model import Confirmation, Payout


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
    WAITING = "waiting"
    """The transfer waits for the payee to confirm it (``confirmation``, when the answer carried
    it, is what they need); nothing has moved yet."""
    CANCELLED = "cancelled"
    """The transfer was closed unpaid (the payee declined or did not confirm in time, or it was
    cancelled): nothing moved and nothing will under this number."""


@dataclass(frozen=True)
class ProviderResult:
    outcome: Outcome
    code: str = ""
    reason: str = ""
    transaction_id: str | None = None
    paid_at: datetime | None = None
    confirmation: Confirmation | None = None


class PayoutProvider(Protocol):
    def transfer(self, payout: Payout) -> ProviderResult:
        """Ask the provider to move the payout's money, under the payout id as its number."""
        ...

    def query(self, payout: Payout) -> ProviderResult:
        """Ask what became of the transfer numbered by the payout id."""
        ...


@runtime_checkable
class CancellableProvider(Protocol):
    """A provider whose transfers wait for the payee and can be withdrawn until they confirm."""

    def cancel(self, payout: Payout) -> ProviderResult:
        """Ask the provider to close the payout's unconfirmed transfer (the outcome comes later)."""
        ...
