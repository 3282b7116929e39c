"""The retry policy: full jitter on a capped exponential, a bounded number of attempts, the whole step
run again (so a decision made from a read is made again from a fresh read)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import pytest

from incentives.core.clock import FixedClock
from incentives.core.retry import RetryPolicy
from incentives.events.consumers import EventPorts, build_consumers
from incentives.events.dispatch import Consumers, Delivery
from incentives.orders.aggregate import AfterSalesWindow
from incentives.storage.ledger import LedgerRepository
from incentives.storage.memory_table import MemoryTable
from incentives.storage.orders import TableOrderRepository
from incentives.storage.payouts import PayoutRepository
from incentives.storage.table import Item, Key, TransactionConflicted, Write
from tests.support import paid_fact

AT = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


class Conflict(Exception):
    pass


def _draws(*values: float) -> Iterator[float]:
    yield from values


def test_pauses_are_full_jitter_on_a_capped_exponential() -> None:
    draws = _draws(1.0, 0.5, 1.0, 1.0, 0.25)
    policy = RetryPolicy(attempts=6, base_seconds=0.1, cap_seconds=0.3, random=lambda: next(draws))
    assert [policy.pause(retry) for retry in range(5)] == [0.1, 0.1, 0.3, 0.3, 0.075]


def test_a_step_that_conflicts_runs_again_whole_after_each_pause_until_it_succeeds() -> None:
    slept: list[float] = []
    reads: list[int] = []
    state = {"version": 0}

    def step() -> str:
        seen = state["version"]  # the read the decision is made from
        reads.append(seen)
        state["version"] += 1  # another writer moved on meanwhile
        if len(reads) < 3:
            raise Conflict()
        return f"decided from version {seen}"

    policy = RetryPolicy(
        attempts=5, base_seconds=0.1, cap_seconds=1.0, sleep=slept.append, random=lambda: 0.5
    )
    assert policy.run(step, (Conflict,)) == "decided from version 2"
    assert reads == [0, 1, 2]  # read again before every retry
    assert slept == [0.05, 0.1]


def test_the_last_attempts_error_propagates_and_other_errors_are_not_retried() -> None:
    calls: list[int] = []

    def conflicting() -> None:
        calls.append(1)
        raise Conflict()

    policy = RetryPolicy(attempts=4, sleep=lambda seconds: None, random=lambda: 0.0)
    with pytest.raises(Conflict):
        policy.run(conflicting, (Conflict,))
    assert len(calls) == 4

    def broken() -> None:
        calls.append(1)
        raise KeyError("not transient")

    calls.clear()
    with pytest.raises(KeyError):
        policy.run(broken, (Conflict,))
    assert len(calls) == 1


def test_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


class _ConflictingTable(MemoryTable):
    """Its first ``conflicts`` write calls meet a transaction in flight; counts batched reads."""

    def __init__(self, conflicts: int) -> None:
        super().__init__()
        self.left, self.batched_reads = conflicts, 0

    def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        self.batched_reads += 1
        return super().get_many(keys)

    def transact(self, writes: Sequence[Write]) -> None:
        if self.left:
            self.left -= 1
            raise TransactionConflicted([0])
        super().transact(writes)


def _consumers(table: MemoryTable, policy: RetryPolicy) -> Consumers:
    return build_consumers(
        EventPorts(
            table=table,
            ledger=LedgerRepository(table),
            orders=TableOrderRepository(table),
            payouts=PayoutRepository(table),
            payout_queue=None,  # type: ignore[arg-type]
            emit=lambda events: None,
            wecom_client=lambda corp: None,
            clock=FixedClock(AT),
            time_zone="Asia/Shanghai",
            window=AfterSalesWindow(7),
            retry=policy,
        )
    )


def test_a_consumer_that_meets_a_conflict_is_run_again_whole_from_its_reads() -> None:
    slept: list[float] = []
    table = _ConflictingTable(conflicts=2)
    consumers = _consumers(table, RetryPolicy(attempts=3, sleep=slept.append, random=lambda: 1.0))
    [payments, *_] = consumers.subscriptions("order.paid")
    detail = payments.consume(
        Delivery("corp", "e1", "order.paid", paid_fact("O1", "C1", 100, paid_at=AT), AT)
    )
    assert detail is not None and "order O1 is paid" in detail
    # order.paid's batched read of its context (nobody bound: no promoters to read) made again
    # before each retry
    assert len(slept) == 2 and table.batched_reads == 3 * 1
    assert TableOrderRepository(table).get("corp", "O1") is not None


def test_a_consumer_whose_attempts_are_exhausted_raises_for_the_queue_to_redeliver() -> None:
    table = _ConflictingTable(conflicts=3)
    consumers = _consumers(table, RetryPolicy(attempts=3, sleep=lambda seconds: None))
    [payments, *_] = consumers.subscriptions("order.paid")
    with pytest.raises(TransactionConflicted):
        payments.consume(Delivery("corp", "e1", "order.paid", paid_fact("O1", "C1", 100, paid_at=AT), AT))
    assert TableOrderRepository(table).get("corp", "O1") is None
