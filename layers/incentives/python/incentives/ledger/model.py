"""Ledger rules, pure.

An account (one guide or affiliate of one tenant) has buckets. Every entry is immutable and
moves a positive amount between buckets; a balance is the sum of its entries' effects:

    earned − reversed = pending + settled + reserved + paid + clawed_back

``earned`` counts credits, ``reversed`` refunds before settlement, ``pending`` what waits for
its hold (the after-sales window), ``settled`` what is withdrawable, ``reserved`` what a
payout is carrying, ``paid`` what reached the payee, ``clawed_back`` refunds after settlement.
``settled`` may fall below zero only through a recorded clawback.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Bucket(StrEnum):
    EARNED = "earned"
    REVERSED = "reversed"
    PENDING = "pending"
    SETTLED = "settled"
    RESERVED = "reserved"
    PAID = "paid"
    CLAWED_BACK = "clawed_back"


class EntryKind(StrEnum):
    CREDIT = "credit"
    """Earned: an incentive is granted; it is pending until its hold passes."""
    REVERSAL = "reversal"
    """A refund before settlement takes back part of a pending credit."""
    SETTLEMENT = "settlement"
    """The hold passed: what remains of a credit becomes withdrawable."""
    CLAWBACK = "clawback"
    """A refund after settlement: a negative adjustment of the withdrawable balance."""
    RESERVE = "reserve"
    """A payout takes an amount out of the withdrawable balance."""
    PAYOUT = "payout"
    """The payout's money reached the payee (or was recorded as paid offline)."""
    RELEASE = "release"
    """A payout was cancelled: its amount is withdrawable again."""


EFFECTS: Mapping[EntryKind, Mapping[Bucket, int]] = {
    EntryKind.CREDIT: {Bucket.EARNED: +1, Bucket.PENDING: +1},
    EntryKind.REVERSAL: {Bucket.REVERSED: +1, Bucket.PENDING: -1},
    EntryKind.SETTLEMENT: {Bucket.PENDING: -1, Bucket.SETTLED: +1},
    EntryKind.CLAWBACK: {Bucket.SETTLED: -1, Bucket.CLAWED_BACK: +1},
    EntryKind.RESERVE: {Bucket.SETTLED: -1, Bucket.RESERVED: +1},
    EntryKind.PAYOUT: {Bucket.RESERVED: -1, Bucket.PAID: +1},
    EntryKind.RELEASE: {Bucket.RESERVED: -1, Bucket.SETTLED: +1},
}


class OwnerKind(StrEnum):
    GUIDE = "guide"
    AFFILIATE = "affiliate"


@dataclass(frozen=True)
class Account:
    corp_id: str
    owner_kind: OwnerKind
    owner_id: str

    def __str__(self) -> str:
        return f"{self.corp_id}/{self.owner_kind.value}/{self.owner_id}"


@dataclass(frozen=True)
class Entry:
    """One immutable ledger line. ``entry_id`` is chosen by the producer and is deterministic."""

    entry_id: str
    account: Account
    kind: EntryKind
    amount_fen: int
    at: datetime
    ref: str
    """What it is about: the credit it reverses / settles / claws back, or the payout."""
    note: str = ""

    def __post_init__(self) -> None:
        if self.amount_fen <= 0:
            raise ValueError(f"entry {self.entry_id}: amounts are positive; the kind gives the direction")
        if "#" in self.entry_id:
            raise ValueError("entry ids must not contain '#'")


def deltas(entries: Iterable[Entry]) -> dict[Bucket, int]:
    """How much each bucket moves when ``entries`` are applied."""
    moved: dict[Bucket, int] = {}
    for entry in entries:
        for bucket, sign in EFFECTS[entry.kind].items():
            moved[bucket] = moved.get(bucket, 0) + sign * entry.amount_fen
    return {bucket: amount for bucket, amount in moved.items() if amount}


@dataclass(frozen=True)
class Balance:
    buckets: Mapping[Bucket, int] = field(default_factory=dict)

    def __getitem__(self, bucket: Bucket) -> int:
        return self.buckets.get(bucket, 0)

    def apply(self, entries: Iterable[Entry]) -> Balance:
        moved = deltas(entries)
        return Balance({b: self[b] + moved.get(b, 0) for b in Bucket})

    @property
    def withdrawable(self) -> int:
        return self[Bucket.SETTLED]

    def violations(self) -> list[str]:
        """Which ledger invariants this balance breaks (empty when it is sound)."""
        found = []
        left = self[Bucket.EARNED] - self[Bucket.REVERSED]
        right = sum(
            self[b]
            for b in (Bucket.PENDING, Bucket.SETTLED, Bucket.RESERVED, Bucket.PAID, Bucket.CLAWED_BACK)
        )
        if left != right:
            found.append(
                f"earned − reversed = {left} but pending + settled + reserved + paid + clawed back = {right}"
            )
        for bucket in (
            Bucket.EARNED,
            Bucket.REVERSED,
            Bucket.PENDING,
            Bucket.RESERVED,
            Bucket.PAID,
            Bucket.CLAWED_BACK,
        ):
            if self[bucket] < 0:
                found.append(f"{bucket.value} is negative ({self[bucket]})")
        if self[Bucket.SETTLED] < -self[Bucket.CLAWED_BACK]:
            found.append(f"settled {self[Bucket.SETTLED]} is below zero by more than the clawbacks")
        return found


def fold(entries: Iterable[Entry]) -> Balance:
    """The balance that ``entries`` add up to."""
    return Balance().apply(entries)
