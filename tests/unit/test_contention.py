"""DynamoDB's transaction conflicts: the in-memory model on simulated time, and the adapter's mapping
of DynamoDB's answers to the same :class:`TransactionConflicted`."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from incentives.storage.contention import Contention, SimulatedTime
from incentives.storage.dynamo_table import DynamoTable
from incentives.storage.memory_table import MemoryTable
from incentives.storage.table import ConditionFailed, Equals, Put, TransactionConflicted, Update

A = {"pk": "a", "sk": "S"}
B = {"pk": "b", "sk": "S"}


def _contended() -> tuple[SimulatedTime, MemoryTable]:
    time = SimulatedTime()
    return time, MemoryTable(Contention(time, hold_seconds=0.010, read_seconds=0.001))


def _writer(time: SimulatedTime, table: MemoryTable, writes: list[Any], log: list[str], name: str) -> None:
    try:
        table.transact(writes)
        log.append(f"{name} committed at {time.now():.3f}")
    except TransactionConflicted as conflict:
        log.append(f"{name} conflicted on {conflict.conflicted} at {time.now():.3f}")


def test_a_transaction_on_an_item_another_holds_is_rejected_whole_and_the_holder_commits() -> None:
    time, table = _contended()
    log: list[str] = []
    first = [Update(A, add={"n": 1})]
    second = [Put({**B, "x": 1}), Update(A, add={"n": 10})]
    time.at(0.000, lambda: _writer(time, table, first, log, "first"))
    time.at(0.004, lambda: _writer(time, table, second, log, "second"))
    time.run()
    assert log == ["second conflicted on [1] at 0.004", "first committed at 0.010"]
    assert table.get(A) == {**A, "n": 1} and table.get(B) is None  # nothing of the rejected one
    assert table.conflicts == 1


def test_transactions_on_other_items_or_after_the_hold_do_not_conflict() -> None:
    time, table = _contended()
    log: list[str] = []
    time.at(0.000, lambda: _writer(time, table, [Update(A, add={"n": 1})], log, "a"))
    time.at(0.001, lambda: _writer(time, table, [Update(B, add={"n": 1})], log, "b"))
    time.at(0.010, lambda: _writer(time, table, [Update(A, add={"n": 1})], log, "a-again"))
    time.run()
    assert log == ["a committed at 0.010", "b committed at 0.011", "a-again committed at 0.020"]
    assert table.get(A) == {**A, "n": 2} and table.conflicts == 0


def test_a_read_during_the_hold_sees_the_state_before_the_transaction() -> None:
    time, table = _contended()
    seen: list[Any] = []
    time.at(0.0, lambda: table.transact([Put({**A, "n": 1})]))
    time.at(0.002, lambda: seen.append(table.get(A)))  # answers at 0.003, before the commit at 0.010
    time.at(0.012, lambda: seen.append(table.get(A)))
    time.run()
    assert seen == [None, {**A, "n": 1}]


def test_a_failed_condition_under_contention_still_writes_nothing_and_releases_the_items() -> None:
    time, table = _contended()
    log: list[str] = []

    def guarded() -> None:
        with pytest.raises(ConditionFailed):
            table.transact([Put({**B, "n": 1}), Update(A, add={"n": 1}, conditions=(Equals("n", 9),))])
        log.append("refused")

    time.at(0.0, guarded)
    time.at(0.020, lambda: _writer(time, table, [Update(A, add={"n": 1})], log, "later"))
    time.run()
    assert log == ["refused", "later committed at 0.030"]
    assert table.get(B) is None and table.get(A) == {**A, "n": 1}


def test_the_default_table_never_conflicts_nor_waits() -> None:
    table = MemoryTable()  # outside any timeline: no hold, no wait
    table.transact([Update(A, add={"n": 1})])
    table.transact([Update(A, add={"n": 1})])
    assert table.get(A) == {**A, "n": 2} and table.conflicts == 0


def test_simulated_time_runs_callers_in_time_order_whatever_the_order_they_were_scheduled() -> None:
    time = SimulatedTime()
    order: list[tuple[str, float]] = []

    def caller(name: str, pause: float) -> None:
        order.append((name, time.now()))
        time.wait(pause)
        order.append((name, time.now()))

    time.at(0.5, lambda: caller("late", 0.1))
    time.at(0.0, lambda: caller("early", 1.0))
    time.run()
    assert order == [("early", 0.0), ("late", 0.5), ("late", 0.6), ("early", 1.0)]


def test_an_error_in_a_caller_ends_the_run_with_that_error() -> None:
    time = SimulatedTime()

    def broken() -> None:
        raise KeyError("boom")

    time.at(0.0, broken)
    with pytest.raises(KeyError):
        time.run()


def _stubbed() -> tuple[DynamoTable, Stubber]:
    client = boto3.client(
        "dynamodb", region_name="ap-southeast-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return DynamoTable(client, "t"), Stubber(client)


@pytest.mark.parametrize(
    ("reasons", "expected"),
    [
        ([{"Code": "None"}, {"Code": "TransactionConflict"}], TransactionConflicted),
        ([{"Code": "ConditionalCheckFailed"}, {"Code": "None"}], ConditionFailed),
    ],
)
def test_dynamodb_cancellation_reasons_map_to_the_port_errors(
    reasons: list[dict[str, str]], expected: type[Exception]
) -> None:
    table, stub = _stubbed()
    stub.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        service_message="Transaction cancelled",
        modeled_fields={"CancellationReasons": reasons},
    )
    with stub, pytest.raises(expected) as raised:
        table.transact([Put({**B, "x": 1}), Update(A, add={"n": 1})])
    positions = raised.value.conflicted if isinstance(raised.value, TransactionConflicted) else None
    assert positions in (None, [1])


def test_a_single_write_meeting_a_transaction_in_flight_is_a_conflict() -> None:
    table, stub = _stubbed()
    stub.add_client_error("update_item", service_error_code="TransactionConflictException")
    with stub, pytest.raises(TransactionConflicted):
        table.transact([Update(A, add={"n": 1})])
