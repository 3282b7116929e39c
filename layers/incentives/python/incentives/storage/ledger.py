"""The ledger on the single table: immutable entry items, balance items per account, holds.

Posting writes the entries (each ``NotExists``, so a repeat is detected, not doubled) and
the balance deltas in one transaction; a balance is therefore always the sum of its entries.

A people's account keeps its balance on several items, so that its credits do not all write one
item: the credit-scoped buckets (``earned``, ``reversed``, ``pending``) on ``BALANCE#<shard>``,
the shard a pure function of the credit (:func:`balance_shard` of the credit's id, which its
reversals and its settlement name as their ``ref``), so each decrement of ``pending`` is guarded
on the shard that holds its credit; the account-scoped ones (``settled``, ``reserved``, ``paid``,
``clawed_back``) on ``BALANCE``, so the withdrawable balance and its guard stay one item. A balance
is read as the sum of these items (one BatchGetItem). Another book's accounts keep one ``BALANCE``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from incentives.core.clock import iso_utc, parse_instant
from incentives.core.errors import Conflict
from incentives.fanout.model import DueQueue
from incentives.ledger.errors import InsufficientBalance, Overdraft
from incentives.ledger.model import (
    Account,
    AnyBucket,
    Balance,
    Book,
    Bucket,
    Entry,
    EntryKind,
    OwnerKind,
    SubsidyBalance,
    SubsidyBucket,
    deltas,
    effects_of,
    entry_kind,
)
from incentives.ledger.postings import Hold
from incentives.storage import keys
from incentives.storage.due import TableDueIndex, due_attributes
from incentives.storage.table import (
    AtLeast,
    ConditionFailed,
    Delete,
    Equals,
    Exists,
    Item,
    NotExists,
    Put,
    Table,
    Update,
    Write,
    query_all,
)


def account_pk(account: Account) -> str:
    """People's accounts keep their historical key; another book's accounts live under ``BOOK#<book>``."""
    if account.book is Book.PEOPLE:
        return f"{keys.tenant(account.corp_id)}#ACCT#{account.owner_kind.value}#{account.owner_id}"
    owner = f"{account.owner_kind.value}#{account.owner_id}"
    return f"{keys.tenant(account.corp_id)}#BOOK#{account.book.value}#ACCT#{owner}"


def _hold_key(account: Account, credit_id: str) -> dict[str, str]:
    return {"pk": account_pk(account), "sk": f"HOLD#{credit_id}"}


def _bucket_attribute(bucket: AnyBucket) -> str:
    return f"b_{bucket.value}"


BALANCE_SHARDS = 8
"""Items the credit-scoped buckets of a people's account are spread over (``BALANCE#<shard>``)."""
CREDIT_SCOPED = frozenset({Bucket.EARNED, Bucket.REVERSED, Bucket.PENDING})
"""Buckets only a credit, its reversals and its settlement move: kept on the credit's shard."""


def balance_shard(credit_id: str) -> int:
    """The balance shard of a credit's pending amount (stable: its reversals and settlement land there)."""
    return keys.shard(credit_id, BALANCE_SHARDS)


def balance_keys(account: Account) -> list[dict[str, str]]:
    """Every item an account's balance is the sum of: ``BALANCE``, then each shard (people's book)."""
    pk = account_pk(account)
    shards = range(BALANCE_SHARDS) if account.book is Book.PEOPLE else range(0)
    return [{"pk": pk, "sk": "BALANCE"}, *({"pk": pk, "sk": f"BALANCE#{shard}"} for shard in shards)]


def _balance_sk(entry: Entry, bucket: AnyBucket) -> str:
    """The balance item ``entry`` moves ``bucket`` on: its credit's shard for a credit-scoped one."""
    if entry.account.book is not Book.PEOPLE or bucket not in CREDIT_SCOPED:
        return "BALANCE"
    credit_id = entry.entry_id if entry.kind is EntryKind.CREDIT else entry.ref
    return f"BALANCE#{balance_shard(credit_id)}"


def _summed(items: Sequence[Item | None], buckets: Sequence[AnyBucket]) -> dict[AnyBucket, int]:
    return {
        bucket: sum(int((item or {}).get(_bucket_attribute(bucket), 0)) for item in items)
        for bucket in buckets
    }


def entry_item(entry: Entry) -> dict[str, Any]:
    item = _entry_item(entry)
    if entry.account.book is not Book.PEOPLE:
        item["book"] = entry.account.book.value
    return item


def _entry_item(entry: Entry) -> dict[str, Any]:
    return {
        "pk": account_pk(entry.account),
        "sk": f"ENTRY#{entry.entry_id}",
        "kind": "ledger_entry",
        "entry_kind": entry.kind.value,
        "entry_id": entry.entry_id,
        "corp_id": entry.account.corp_id,
        "owner_kind": entry.account.owner_kind.value,
        "owner_id": entry.account.owner_id,
        "amount_fen": entry.amount_fen,
        "at": iso_utc(entry.at),
        "ref": entry.ref,
        "note": entry.note,
    }


def entry_from_item(item: dict[str, Any]) -> Entry:
    book = Book(item.get("book", Book.PEOPLE.value))
    return Entry(
        entry_id=item["entry_id"],
        account=Account(item["corp_id"], OwnerKind(item["owner_kind"]), item["owner_id"], book),
        kind=entry_kind(book, item["entry_kind"]),
        amount_fen=int(item["amount_fen"]),
        at=parse_instant(item["at"]),
        ref=item["ref"],
        note=item.get("note", ""),
    )


def guarded_decrements(entries: Sequence[Entry]) -> dict[AnyBucket, int]:
    """How much each bucket must hold for ``entries`` to apply without going below zero.

    Every net decrement is guarded; a clawback alone may take ``settled`` below zero (SPEC §5),
    so its part is left out of the guard on ``settled``.
    """
    moved = deltas(entries)
    moved.pop(Bucket.SETTLED, None)
    settled = deltas(entry for entry in entries if entry.kind is not EntryKind.CLAWBACK).get(
        Bucket.SETTLED, 0
    )
    if settled:
        moved[Bucket.SETTLED] = settled
    return {bucket: -amount for bucket, amount in moved.items() if amount < 0}


def posting_writes(entries: Sequence[Entry], at: datetime) -> list[Write]:
    """Entry puts and one update per balance item moved (``BALANCE``, a credit's ``BALANCE#<shard>``),
    each refusing to take a bucket of its own below zero."""
    writes: list[Write] = [Put(entry_item(entry), (NotExists(),)) for entry in entries]
    # balance item → the entries that move it, and the buckets it holds of theirs
    by_item: dict[tuple[Account, str], tuple[list[Entry], set[AnyBucket]]] = {}
    for entry in entries:
        buckets_at: dict[str, set[AnyBucket]] = {}
        for bucket in effects_of(entry.kind):  # each bucket's balance item named once
            buckets_at.setdefault(_balance_sk(entry, bucket), set()).add(bucket)
        for sk in sorted(buckets_at):
            own, mine = by_item.setdefault((entry.account, sk), ([], set()))
            own.append(entry)
            mine.update(buckets_at[sk])
    for (account, sk), (own, mine) in by_item.items():
        moved = {bucket: amount for bucket, amount in deltas(own).items() if bucket in mine}
        conditions = tuple(
            AtLeast(_bucket_attribute(bucket), amount)
            for bucket, amount in sorted(guarded_decrements(own).items())
            if bucket in mine
        )
        writes.append(
            Update(
                key={"pk": account_pk(account), "sk": sk},
                add={_bucket_attribute(bucket): amount for bucket, amount in moved.items()},
                set={
                    "kind": "ledger_balance",
                    "corp_id": account.corp_id,
                    "owner_kind": account.owner_kind.value,
                    "owner_id": account.owner_id,
                    "updated_at": iso_utc(at),
                    **({} if account.book is Book.PEOPLE else {"book": account.book.value}),
                },
                conditions=conditions,
            )
        )
    return writes


def _is_balance(write: Write) -> bool:
    return isinstance(write, Update) and str(write.key.get("sk", "")).split("#")[0] == "BALANCE"


def _guards_withdrawable(write: Write) -> bool:
    return isinstance(write, Update) and any(
        isinstance(condition, AtLeast) and condition.name == _bucket_attribute(Bucket.SETTLED)
        for condition in write.conditions
    )


def balance_refusal(writes: Sequence[Write], failed: Sequence[int]) -> Conflict | None:
    """The error for a transaction refused only because a balance guard failed; None when another
    condition failed too (a race the caller judges: a balance read before it is stale as well)."""
    refused = [writes[position] for position in failed if _is_balance(writes[position])]
    if not refused or len(refused) < len(failed):
        return None
    if any(_guards_withdrawable(write) for write in refused):
        return InsufficientBalance("the withdrawable balance is too small for this amount")
    return Overdraft("the posting would take a ledger bucket below zero")


def commit_posting(table: Table, writes: Sequence[Write], entry_count: int) -> bool:
    """Run the writes. False when the entries were posted before (a repeat); raises
    :class:`InsufficientBalance` / :class:`Overdraft` when a balance would go below zero, and
    :class:`ConditionFailed` when a condition of another write failed (the caller's to judge)."""
    try:
        table.transact(writes)
    except ConditionFailed as failure:
        if any(position < entry_count for position in failure.failed):
            return False
        refusal = balance_refusal(writes, failure.failed)
        if refusal is not None:
            raise refusal from failure
        raise
    return True


class LedgerRepository:
    def __init__(self, table: Table) -> None:
        self._table = table

    def post(
        self,
        entries: Sequence[Entry],
        at: datetime,
        *,
        extra: Sequence[Write] = (),
    ) -> bool:
        """Post entries (plus ``extra`` writes) atomically; False if they were posted before."""
        writes = posting_writes(entries, at)
        return commit_posting(self._table, [*writes, *extra], len(entries))

    def credit(
        self,
        entry: Entry,
        hold_until: datetime | None,
        *,
        record_key: tuple[str, str] | None = None,
        extra: Sequence[Write] = (),
    ) -> bool:
        """Post a credit and open its hold (it settles once ``hold_until`` has passed).

        A hold without ``hold_until`` waits until :meth:`schedule` gives it one. ``record_key``
        names an item that the settlement marks ``settled`` in the same transaction.
        """
        return self.post([entry], entry.at, extra=[*self.open_hold(entry, hold_until, record_key), *extra])

    def open_hold(
        self, entry: Entry, hold_until: datetime | None, record_key: tuple[str, str] | None = None
    ) -> list[Write]:
        """The write that opens the hold of credit ``entry`` (for callers composing a transaction)."""
        item: dict[str, Any] = {
            **_hold_key(entry.account, entry.entry_id),
            "kind": "ledger_hold",
            "corp_id": entry.account.corp_id,
            "owner_kind": entry.account.owner_kind.value,
            "owner_id": entry.account.owner_id,
            "credit_id": entry.entry_id,
            "remaining_fen": entry.amount_fen,
        }
        if record_key is not None:
            item["record_pk"], item["record_sk"] = record_key
        if hold_until is not None:
            item.update(_due(entry.account, entry.entry_id, hold_until))
        return [Put(item, (NotExists(),))]

    def schedule(self, account: Account, credit_id: str, hold_until: datetime) -> bool:
        """Give a waiting hold its date; False when the hold is gone (settled or fully reversed)."""
        try:
            self._table.transact([self.hold_schedule(account, credit_id, hold_until)])
        except ConditionFailed:
            return False
        return True

    @staticmethod
    def hold_schedule(account: Account, credit_id: str, hold_until: datetime) -> Update:
        """The write that gives a waiting hold its date (refused if the hold is gone)."""
        return Update(
            _hold_key(account, credit_id), set=_due(account, credit_id, hold_until), conditions=(Exists(),)
        )

    def reverse(self, entry: Entry) -> bool:
        """Post a reversal and reduce the credit's hold by the same amount."""
        return self.post([entry], entry.at, extra=[self.hold_reduction(entry)])

    @staticmethod
    def hold_reduction(entry: Entry) -> Update:
        """The write that takes a reversal out of its credit's hold (refused if it would go negative)."""
        return Update(
            key=_hold_key(entry.account, entry.ref),
            add={"remaining_fen": -entry.amount_fen},
            conditions=(AtLeast("remaining_fen", entry.amount_fen),),
        )

    def settle(self, hold: Hold, entry: Entry | None, at: datetime) -> bool:
        """Close a hold, posting its settlement entry if anything remains."""
        close: list[Write] = [
            Delete(_hold_key(hold.account, hold.credit_id), (Equals("remaining_fen", hold.remaining_fen),))
        ]
        if hold.record_key is not None:
            pk, sk = hold.record_key
            close.append(
                Update(
                    {"pk": pk, "sk": sk}, set={"settled_at": iso_utc(at), "settled_fen": hold.remaining_fen}
                )
            )
        try:
            return self.post([entry] if entry else [], at, extra=close)
        except ConditionFailed:
            return False  # a refund changed the hold meanwhile: the next run sees it

    def hold(self, account: Account, credit_id: str) -> Hold | None:
        item = self._table.get(_hold_key(account, credit_id))
        return _hold_from_item(item) if item else None

    def holds_due(self, now: datetime) -> list[Hold]:
        """Holds whose ``hold_until`` is at or before ``now`` (all tenants, every shard, no cap),
        from the due index's projection."""
        return [self.hold_from_due(entry) for entry in TableDueIndex(self._table).due(DueQueue.HOLDS, now)]

    @staticmethod
    def hold_from_due(entry: dict[str, Any]) -> Hold:
        """The hold a due entry describes (its projection holds every field)."""
        return _hold_from_item(entry)

    def balance(self, account: Account) -> Balance:
        """The account's buckets: the sum of its balance items (one batched read)."""
        summed = _summed(self._table.get_many(balance_keys(account)), list(Bucket))
        return Balance({bucket: summed[bucket] for bucket in Bucket})

    def subsidy_balance(self, account: Account) -> SubsidyBalance:
        """The buckets of a subsidy-book account (what its entries add up to)."""
        item = self._table.get({"pk": account_pk(account), "sk": "BALANCE"}) or {}
        return SubsidyBalance(
            {bucket: int(item.get(_bucket_attribute(bucket), 0)) for bucket in SubsidyBucket}
        )

    def entries(self, account: Account) -> list[Entry]:
        found = [
            entry_from_item(item) for item in query_all(self._table, account_pk(account), sk_prefix="ENTRY#")
        ]
        return sorted(found, key=lambda entry: (entry.at, entry.entry_id))


def _due(account: Account, credit_id: str, hold_until: datetime) -> dict[str, str]:
    """The hold's place in the settlement job's due queue."""
    identity = f"{account.owner_kind.value}#{account.owner_id}#{credit_id}"
    return {
        "hold_until": iso_utc(hold_until),
        **due_attributes(
            DueQueue.HOLDS, f"{account.corp_id}#{identity}", hold_until, account.corp_id, identity
        ),
    }


def _hold_from_item(item: dict[str, Any]) -> Hold:
    return Hold(
        account=Account(item["corp_id"], OwnerKind(item["owner_kind"]), item["owner_id"]),
        credit_id=item["credit_id"],
        remaining_fen=int(item["remaining_fen"]),
        hold_until=parse_instant(item["hold_until"]) if item.get("hold_until") else None,
        record_key=(item["record_pk"], item["record_sk"]) if item.get("record_pk") else None,
    )
