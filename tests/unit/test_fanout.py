"""The scheduled fan-out: any number due finishes within one run, each due entry read once.

The old jobs stopped at 1,000 settlements (and 500 payouts) per run; these runs have more due
than that and must finish them all, from the index projection (no read per entry to find it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incentives.fanout.model import DueQueue, ItemWork, ShardWork
from incentives.fanout.service import read_shard
from incentives.ledger import postings
from incentives.ledger.model import Account, Bucket, OwnerKind
from incentives.ledger.service import settle_hold, settle_holds_past
from incentives.storage.due import DUE_SHARDS, TableDueIndex
from incentives.storage.ledger import LedgerRepository
from tests.support.fanout import CountingTable, MemoryWorkQueue, run_fanned_out

T0 = datetime(2026, 11, 1, tzinfo=UTC)
DUE = 2_500
"""More than the old cap of 1,000 settlements per run."""


def _credits(
    table: CountingTable, count: int, *, hold: timedelta = timedelta(days=7), prefix: str = "c"
) -> LedgerRepository:
    ledger = LedgerRepository(table)
    for n in range(count):
        guide = Account("ww-corp", OwnerKind.GUIDE, f"g{n % 97}")
        assert ledger.credit(postings.credit(guide, f"credit:{prefix}-{n}", 100, T0), hold_until=T0 + hold)
    return ledger


def _settle_unit(ledger: LedgerRepository):  # type: ignore[no-untyped-def]
    def settle(entry: dict[str, object], as_of: datetime) -> dict[str, int]:
        return {"settled": int(settle_hold(ledger, ledger.hold_from_due(entry), as_of))}

    return settle


def _settled_total(ledger: LedgerRepository) -> int:
    return sum(
        ledger.balance(Account("ww-corp", OwnerKind.GUIDE, f"g{n}"))[Bucket.SETTLED] for n in range(97)
    )


def test_one_fanned_out_run_settles_every_due_hold_beyond_the_old_cap() -> None:
    table = CountingTable()
    ledger = _credits(table, DUE)
    _credits(table, 10, hold=timedelta(days=30), prefix="later")  # not due yet: left alone
    before = table.calls.reads
    run_at = T0 + timedelta(days=8)
    done, entries = run_fanned_out(
        table, {DueQueue.HOLDS: run_at}, {DueQueue.HOLDS: _settle_unit(ledger)}, run_at
    )
    # Only the shard queries read (a page of up to 500 entries each), never a read per entry.
    assert table.calls.reads - before <= DUE_SHARDS + DUE // 500
    assert done["settled"] == DUE and entries == DUE
    assert _settled_total(ledger) == DUE * 100
    assert len(ledger.holds_due(T0 + timedelta(days=8))) == 0
    assert len(ledger.holds_due(T0 + timedelta(days=31))) == 10


def test_settling_in_process_has_no_cap_either() -> None:
    ledger = _credits(CountingTable(), DUE)
    assert settle_holds_past(ledger, T0 + timedelta(days=8)) == DUE


def test_a_redelivered_shard_message_settles_nothing_twice() -> None:
    table = CountingTable()
    ledger = _credits(table, 30)
    queue = MemoryWorkQueue(table.calls)
    index = TableDueIndex(table)
    as_of = T0 + timedelta(days=8)
    sent = sum(
        read_shard(index, queue, ShardWork(queue=DueQueue.HOLDS, shard=s, up_to=as_of, as_of=as_of, run="r"))
        for s in range(DUE_SHARDS)
    )
    items = [
        ItemWork.model_validate_json(body.removeprefix('{"work":').removesuffix("}"))
        for body in queue.messages
    ]
    assert sent == len(items) == 30
    settle = _settle_unit(ledger)
    assert sum(settle(item.entry, as_of)["settled"] for item in items) == 30
    assert sum(settle(item.entry, as_of)["settled"] for item in items) == 0  # redelivered: done already
    assert _settled_total(ledger) == 30 * 100


def test_an_entry_not_due_by_the_run_is_not_done_even_if_a_message_names_it() -> None:
    ledger = _credits(CountingTable(), 1)
    [hold] = ledger.holds_due(T0 + timedelta(days=8))
    assert not settle_hold(ledger, hold, T0 + timedelta(days=6))
