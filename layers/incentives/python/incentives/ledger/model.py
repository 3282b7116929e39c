"""Ledger rules, pure.

An account (one guide or affiliate of one tenant) has buckets. Every entry is immutable and
moves a positive amount between buckets; a balance is the sum of its entries' effects:

    earned − reversed = pending + settled + reserved + paid + clawed_back

``earned`` counts credits, ``reversed`` refunds before settlement, ``pending`` what waits for
its hold (the after-sales window), ``settled`` what is withdrawable, ``reserved`` what a
payout is carrying, ``paid`` what reached the payee, ``clawed_back`` refunds after settlement.
``settled`` may fall below zero only through a recorded clawback.

The ledger has books, each with its own chart of entry kinds and buckets, posted the one way
(:class:`~incentives.storage.ledger.LedgerRepository.post`): people's incentives (the chart
above) and the platform subsidy (seed 004: fees the platform saves a shop and the growth cards
it grants, and their clawbacks). An account belongs to one book; an entry's kind must be of
its account's book.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


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


class Book(StrEnum):
    PEOPLE = "people"
    """People's incentives: guides' and affiliates' accounts (:class:`EntryKind`, :class:`Bucket`)."""
    SUBSIDY = "subsidy"
    """The platform subsidy of a campaign (:class:`SubsidyEntryKind`, :class:`SubsidyBucket`)."""


class SubsidyBucket(StrEnum):
    FEE_SAVED = "fee_saved"
    """Technical service fee the platform did not charge (standard rate − reduced rate)."""
    GROWTH_CARDS = "growth_cards"
    """Growth cards (电商成长卡) granted."""
    FEE_SAVED_CLAWED_BACK = "fee_saved_clawed_back"
    GROWTH_CARDS_CLAWED_BACK = "growth_cards_clawed_back"


class SubsidyEntryKind(StrEnum):
    FEE_SAVING = "fee_saving"
    """A settled order's fee saving."""
    GROWTH_CARD = "growth_card"
    """A settled order's growth card (its recipient in the note)."""
    FEE_SAVING_CLAWBACK = "fee_saving_clawback"
    """A flagged order's fee saving taken back; ``ref`` is the fee-saving entry."""
    GROWTH_CARD_CLAWBACK = "growth_card_clawback"
    """A flagged order's growth card taken back; ``ref`` is the growth-card entry."""


SUBSIDY_EFFECTS: Mapping[SubsidyEntryKind, Mapping[SubsidyBucket, int]] = {
    SubsidyEntryKind.FEE_SAVING: {SubsidyBucket.FEE_SAVED: +1},
    SubsidyEntryKind.GROWTH_CARD: {SubsidyBucket.GROWTH_CARDS: +1},
    SubsidyEntryKind.FEE_SAVING_CLAWBACK: {SubsidyBucket.FEE_SAVED_CLAWED_BACK: +1},
    SubsidyEntryKind.GROWTH_CARD_CLAWBACK: {SubsidyBucket.GROWTH_CARDS_CLAWED_BACK: +1},
}
"""The subsidy book's chart: every entry adds; a clawback is an entry of its own, never an edit."""

AnyEntryKind = EntryKind | SubsidyEntryKind
AnyBucket = Bucket | SubsidyBucket


def book_of_kind(kind: AnyEntryKind) -> Book:
    return Book.SUBSIDY if isinstance(kind, SubsidyEntryKind) else Book.PEOPLE


def entry_kind(book: Book, value: str) -> AnyEntryKind:
    """The entry kind named ``value`` in ``book``'s chart."""
    return SubsidyEntryKind(value) if book is Book.SUBSIDY else EntryKind(value)


def effects_of(kind: AnyEntryKind) -> dict[AnyBucket, int]:
    chart: Mapping[Any, int] = SUBSIDY_EFFECTS[kind] if isinstance(kind, SubsidyEntryKind) else EFFECTS[kind]
    return dict(chart)


class OwnerKind(StrEnum):
    GUIDE = "guide"
    AFFILIATE = "affiliate"
    CAMPAIGN = "campaign"
    """A subsidy campaign (subsidy book only)."""


@dataclass(frozen=True)
class Account:
    corp_id: str
    owner_kind: OwnerKind
    owner_id: str
    book: Book = Book.PEOPLE

    def __str__(self) -> str:
        text = f"{self.corp_id}/{self.owner_kind.value}/{self.owner_id}"
        return text if self.book is Book.PEOPLE else f"{text}@{self.book.value}"


@dataclass(frozen=True)
class Entry:
    """One immutable ledger line. ``entry_id`` is chosen by the producer and is deterministic."""

    entry_id: str
    account: Account
    kind: AnyEntryKind
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
        if book_of_kind(self.kind) is not self.account.book:
            raise ValueError(
                f"entry {self.entry_id}: a {self.kind.value} entry is not of the {self.account.book} book"
            )


def deltas(entries: Iterable[Entry]) -> dict[AnyBucket, int]:
    """How much each bucket moves when ``entries`` are applied (each by its book's chart)."""
    moved: dict[AnyBucket, int] = {}
    for entry in entries:
        for bucket, sign in effects_of(entry.kind).items():
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


@dataclass(frozen=True)
class SubsidyBalance:
    """A subsidy-book account's buckets: what was granted and what was clawed back."""

    buckets: Mapping[SubsidyBucket, int] = field(default_factory=dict)

    def __getitem__(self, bucket: SubsidyBucket) -> int:
        return self.buckets.get(bucket, 0)

    def violations(self) -> list[str]:
        found = [f"{b.value} is negative ({self[b]})" for b in SubsidyBucket if self[b] < 0]
        if self[SubsidyBucket.FEE_SAVED_CLAWED_BACK] > self[SubsidyBucket.FEE_SAVED]:
            found.append("more fee saving clawed back than was granted")
        if self[SubsidyBucket.GROWTH_CARDS_CLAWED_BACK] > self[SubsidyBucket.GROWTH_CARDS]:
            found.append("more growth cards clawed back than were granted")
        return found


def fold_subsidy(entries: Iterable[Entry]) -> SubsidyBalance:
    """The subsidy balance that ``entries`` (of the subsidy book) add up to."""
    moved = deltas(entry for entry in entries if entry.account.book is Book.SUBSIDY)
    return SubsidyBalance({bucket: moved.get(bucket, 0) for bucket in SubsidyBucket})
