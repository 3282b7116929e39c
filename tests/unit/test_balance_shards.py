"""Per-credit balance buckets: a people's account keeps ``earned`` / ``reversed`` / ``pending`` on the
shard of each credit (``BALANCE#<n>``) and the withdrawable buckets on ``BALANCE`` (decision 147)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from incentives.ledger import postings
from incentives.ledger.errors import InsufficientBalance, Overdraft
from incentives.ledger.model import Account, Book, Bucket, Entry, OwnerKind, SubsidyEntryKind, fold
from incentives.ledger.postings import Hold
from incentives.storage.contention import Contention, SimulatedTime
from incentives.storage.ledger import BALANCE_SHARDS, LedgerRepository, balance_shard, posting_writes
from incentives.storage.memory_table import MemoryTable
from incentives.storage.table import Item, Key, TransactionConflicted, Update

AT = datetime(2026, 11, 11, 12, tzinfo=UTC)
ALICE = Account("ww-1", OwnerKind.AFFILIATE, "aff-1")


def _balance_items(writes: Sequence[Any]) -> list[str]:
    return sorted(write.key["sk"] for write in writes if isinstance(write, Update))


def _two_credits_on_other_shards() -> tuple[str, str]:
    ids = [f"share-{n}" for n in range(50)]
    first = ids[0]
    return first, next(other for other in ids if balance_shard(other) != balance_shard(first))


def test_a_credit_its_reversal_and_settlement_move_its_shard_and_only_settling_touches_balance() -> None:
    credit = postings.credit(ALICE, "share-O-1-aff-1", 500, AT)
    shard = f"BALANCE#{balance_shard(credit.entry_id)}"
    hold = Hold(ALICE, credit.entry_id, 500, AT)
    reversal = postings.reversal(hold, "refund-1", 100, AT)
    settlement = postings.settlement(Hold(ALICE, credit.entry_id, 400, AT), AT)
    assert settlement is not None
    assert _balance_items(posting_writes([credit], AT)) == [shard]
    assert _balance_items(posting_writes([reversal], AT)) == [shard]
    assert _balance_items(posting_writes([settlement], AT)) == ["BALANCE", shard]
    assert _balance_items(posting_writes([postings.reserve(ALICE, "p1", 1, AT)], AT)) == ["BALANCE"]
    assert _balance_items(posting_writes([postings.clawback(ALICE, "c", "k", 1, AT)], AT)) == ["BALANCE"]


def test_one_accounts_credits_spread_over_every_shard() -> None:
    sks = {
        sk
        for n in range(200)
        for sk in _balance_items(posting_writes([postings.credit(ALICE, f"share-O-{n}", 5, AT)], AT))
    }
    assert sks == {f"BALANCE#{shard}" for shard in range(BALANCE_SHARDS)}


def test_another_books_account_keeps_one_balance_item() -> None:
    campaign = Account("ww-1", OwnerKind.CAMPAIGN, "c1", Book.SUBSIDY)
    saving = Entry("fee-1", campaign, SubsidyEntryKind.FEE_SAVING, 30, AT, ref="o1")
    assert _balance_items(posting_writes([saving], AT)) == ["BALANCE"]


def test_a_pending_decrement_is_guarded_on_its_own_credits_shard_not_on_the_accounts_total() -> None:
    """Another credit's pending on another shard does not cover a reversal of this one."""
    small, large = _two_credits_on_other_shards()
    ledger = LedgerRepository(MemoryTable())
    ledger.credit(postings.credit(ALICE, small, 100, AT), hold_until=AT)
    ledger.credit(postings.credit(ALICE, large, 5_000, AT), hold_until=AT)
    before = ledger.balance(ALICE)
    too_much = postings.reversal(Hold(ALICE, small, 300, AT), "refund-x", 300, AT)  # hold bypassed
    with pytest.raises(Overdraft):
        ledger.post([too_much], AT)
    assert ledger.balance(ALICE) == before and before[Bucket.PENDING] == 5_100


def test_the_withdrawable_balance_stays_one_guarded_item_summed_with_the_shards() -> None:
    ledger = LedgerRepository(MemoryTable())
    credits = [f"share-{n}" for n in range(12)]
    for credit_id in credits:
        ledger.credit(postings.credit(ALICE, credit_id, 1_000, AT), hold_until=AT)
    for credit_id in credits[:5]:
        hold = ledger.hold(ALICE, credit_id)
        assert hold is not None
        ledger.settle(hold, postings.settlement(hold, AT), AT)
    hold = ledger.hold(ALICE, credits[7])
    assert hold is not None
    ledger.reverse(postings.reversal(hold, "refund-7", 400, AT))
    with pytest.raises(InsufficientBalance):  # 7,000 pending is not withdrawable
        ledger.post([postings.reserve(ALICE, "p1", 5_001, AT)], AT)
    ledger.post([postings.reserve(ALICE, "p2", 5_000, AT)], AT)
    ledger.post([postings.clawback(ALICE, credits[0], "claw-0", 300, AT)], AT)
    balance = ledger.balance(ALICE)
    assert balance == fold(ledger.entries(ALICE)) and balance.violations() == []
    assert balance[Bucket.EARNED] == 12_000 and balance[Bucket.PENDING] == 6_600
    assert balance[Bucket.REVERSED] == 400 and balance.withdrawable == -300


class _Counting(MemoryTable):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def get(self, key: Key) -> Item | None:
        self.reads.append("get")
        return super().get(key)

    def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        self.reads.append(f"get_many {len(keys)}")
        return super().get_many(keys)


def test_a_balance_is_read_in_one_batched_read_of_its_items() -> None:
    table = _Counting()
    ledger = LedgerRepository(table)
    for n in range(20):
        ledger.credit(postings.credit(ALICE, f"share-{n}", 10 + n, AT), hold_until=AT)
    table.reads.clear()
    assert ledger.balance(ALICE)[Bucket.PENDING] == sum(10 + n for n in range(20))
    assert table.reads == [f"get_many {1 + BALANCE_SHARDS}"]


def _concurrently(writes: list[Any]) -> int:
    """Post each posting at the same simulated instant; how many conflicted."""
    time = SimulatedTime()
    table = MemoryTable(Contention(time, hold_seconds=0.010, read_seconds=0.001))
    LedgerRepository(table).post([postings.credit(ALICE, "seed", 10_000, AT)], AT)
    settled = postings.settlement(Hold(ALICE, "seed", 10_000, AT), AT)
    assert settled is not None
    table.transact(posting_writes([settled], AT))
    conflicted: list[int] = []

    def post(entries: Any) -> None:
        try:
            LedgerRepository(table).post(entries, AT)
        except TransactionConflicted:
            conflicted.append(1)

    for entries in writes:
        time.at(1.0, lambda entries=entries: post(entries))
    time.run()
    return len(conflicted)


def test_credits_on_other_shards_and_a_withdrawal_do_not_hold_each_other_but_two_withdrawals_do() -> None:
    first, second = _two_credits_on_other_shards()
    credits = [[postings.credit(ALICE, first, 5, AT)], [postings.credit(ALICE, second, 5, AT)]]
    reserve = [postings.reserve(ALICE, "p1", 100, AT)]
    assert _concurrently([*credits, reserve]) == 0
    assert _concurrently([reserve, [postings.reserve(ALICE, "p2", 100, AT)]]) == 1
