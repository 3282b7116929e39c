"""The embedded AWS endpoint keeps DynamoDB's guarantees under concurrent requests (SPEC §5).

Many threads race through :class:`DynamoTable` on one item, as concurrent invocations of the
functions do on the local stack: conditional writes and transactions are atomic and isolated,
and a transaction that fails takes nothing that others wrote with it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config

from incentives.storage.dynamo_table import DynamoTable
from incentives.storage.table import AtLeast, ConditionFailed, Delete, Equals, NotExists, Put, Update, Write
from tests.conftest import StackHandle

THREADS = 30
BALANCE = {"pk": "RACE#account", "sk": "BALANCE"}


def _table(stack: StackHandle, filler: int = 2_000) -> DynamoTable:
    """The stack's table through a client with a connection per thread, holding ``filler`` items
    (a table in use: moto's failed transaction copies it whole, which takes a while)."""
    client = boto3.client(
        "dynamodb",
        endpoint_url=stack.config.endpoint_url,
        region_name=stack.config.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(max_pool_connections=2 * THREADS, retries={"mode": "standard", "max_attempts": 1}),
    )
    name = stack.ref("IncentivesTable")
    for start in range(0, filler, 25):
        client.batch_write_item(
            RequestItems={
                name: [
                    {"PutRequest": {"Item": {"pk": {"S": f"FILL#{n}"}, "sk": {"S": "ITEM"}}}}
                    for n in range(start, min(start + 25, filler))
                ]
            }
        )
    return DynamoTable(client, name)


def _race(attempts: list[Callable[[], None]]) -> list[str]:
    """Run every attempt at once; what each met: ``ok``, ``condition failed`` or the error."""
    start = threading.Barrier(len(attempts))

    def attempt(run: Callable[[], None]) -> str:
        start.wait()
        try:
            run()
        except ConditionFailed:
            return "condition failed"
        except Exception as error:  # an endpoint that breaks under load answers 500s
            return f"error: {error}"
        return "ok"

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        return list(pool.map(attempt, attempts))


def _records(table: DynamoTable, partition: str) -> list[dict[str, Any]]:
    return table.query(partition, limit=1000).items


def test_of_many_conditional_withdrawals_of_the_whole_balance_exactly_one_wins(stack: StackHandle) -> None:
    table = _table(stack)
    table.transact([Put({**BALANCE, "b": 1_000})])

    def withdraw(n: int) -> Callable[[], None]:
        writes: list[Write] = [
            Update(BALANCE, add={"b": -1_000}, conditions=(AtLeast("b", 1_000),)),
            Put({"pk": "RACE#withdrawals", "sk": f"W#{n}"}, (NotExists(),)),
        ]
        return lambda: table.transact(writes)

    outcomes = _race([withdraw(n) for n in range(THREADS)])

    assert sorted(outcomes) == ["condition failed"] * (THREADS - 1) + ["ok"]
    assert table.get(BALANCE) == {**BALANCE, "b": 0}
    assert len(_records(table, "RACE#withdrawals")) == 1


def test_a_failed_transaction_takes_nothing_that_others_wrote_meanwhile(stack: StackHandle) -> None:
    table = _table(stack, filler=5_000)
    counter = {"pk": "RACE#counter", "sk": "COUNT"}
    table.transact([Put({**counter, "n": 0, "state": "open"})])

    def transaction(n: int) -> Callable[[], None]:
        writes: list[Write] = [
            Put({"pk": "RACE#kept", "sk": f"K#{n}"}, (NotExists(),)),
            Update(counter, add={"n": 1}),
        ]
        return lambda: table.transact(writes)

    def single_write(n: int) -> Callable[[], None]:
        return lambda: table.transact([Put({"pk": "RACE#kept", "sk": f"S#{n}"}, (NotExists(),))])

    def refused(n: int) -> Callable[[], None]:
        writes: list[Write] = [
            Put({"pk": "RACE#refused", "sk": f"R#{n}"}, (NotExists(),)),
            Update(counter, add={"n": 1000}, conditions=(Equals("state", "closed"),)),
        ]
        return lambda: table.transact(writes)

    rounds = 15
    outcomes = _race([make(n) for n in range(rounds) for make in (transaction, single_write, refused)])

    assert sorted(outcomes) == ["condition failed"] * rounds + ["ok"] * 2 * rounds
    assert len(_records(table, "RACE#kept")) == 2 * rounds
    assert _records(table, "RACE#refused") == []
    assert table.get(counter) == {**counter, "n": rounds, "state": "open"}


def test_a_cancelled_transaction_puts_back_exactly_the_items_it_had_written(stack: StackHandle) -> None:
    """The embedded endpoint saves only the items a transaction writes (not the whole table): a
    cancelled transaction must still leave each of them as it was, new ones absent."""
    table = _table(stack, filler=200)
    kept = {"pk": "UNDO#a", "sk": "KEPT", "n": 5, "tags": ["x"]}
    gone = {"pk": "UNDO#a", "sk": "GONE", "n": 1}
    guard = {"pk": "UNDO#b", "sk": "GUARD", "state": "open"}
    table.transact([Put(kept), Put(gone), Put(guard)])

    try:
        table.transact(
            [
                Put({"pk": "UNDO#a", "sk": "NEW", "n": 9}),
                Update({"pk": "UNDO#a", "sk": "KEPT"}, add={"n": 100}, set={"tags": ["y"]}),
                Delete({"pk": "UNDO#a", "sk": "GONE"}),
                Update(
                    {"pk": "UNDO#b", "sk": "GUARD"},
                    set={"state": "x"},
                    conditions=(Equals("state", "closed"),),
                ),
            ]
        )
    except ConditionFailed as refused:
        assert refused.failed == [3]
    else:
        raise AssertionError("the guard's condition should have cancelled the transaction")

    assert _records(table, "UNDO#a") == [gone, kept]
    assert table.get({"pk": "UNDO#b", "sk": "GUARD"}) == guard
    assert table.get({"pk": "FILL#7", "sk": "ITEM"}) == {"pk": "FILL#7", "sk": "ITEM"}


def test_a_query_reads_its_partition_in_order_and_pages_through_it(stack: StackHandle) -> None:
    """A query on the table reads its partition only (the embedded endpoint no longer lists the
    whole table for it): same items, same order, same paging as before."""
    table = _table(stack, filler=300)
    rows = [{"pk": "PAGE#p", "sk": f"S#{n:03d}", "n": n} for n in range(30)]
    for start in range(0, len(rows), 10):
        table.transact([Put(row) for row in rows[start : start + 10]])
    table.transact([Put({"pk": "PAGE#q", "sk": "S#000", "n": -1})])

    pages, cursor = [], None
    while True:
        page = table.query("PAGE#p", limit=7, cursor=cursor)
        pages.append(page.items)
        cursor = page.cursor
        if cursor is None:
            break
    assert [len(items) for items in pages][:4] == [7, 7, 7, 7]
    assert [row for items in pages for row in items] == rows
    assert table.query("PAGE#p", newest_first=True, limit=3).items == rows[::-1][:3]
    assert table.query("PAGE#p", sk_prefix="S#01", limit=100).items == rows[10:20]
    assert table.query("PAGE#none", limit=5).items == []


def test_every_attribute_type_comes_back_as_it_was_written(stack: StackHandle) -> None:
    """The embedded endpoint writes an attribute value's one member only (moto's serializer tries
    all ten for each value): strings, numbers, binaries (base64 once), sets, nested maps and
    lists, null and false must come back exactly as DynamoDB returns them."""
    client = _table(stack, filler=0)._client
    name = stack.ref("IncentivesTable")
    item = {
        "pk": {"S": "TYPES#a"},
        "sk": {"S": "ALL"},
        "s": {"S": "银牌 ✓"},
        "n": {"N": "-12.5"},
        "b": {"B": b"\x00\xffraw"},
        "ss": {"SS": ["x", "y"]},
        "ns": {"NS": ["1", "2"]},
        "bs": {"BS": [b"\x01", b"\x02"]},
        "m": {"M": {"inner": {"L": [{"S": "z"}, {"N": "3"}, {"NULL": True}]}, "empty": {"M": {}}}},
        "l": {"L": []},
        "null": {"NULL": True},
        "no": {"BOOL": False},
        "yes": {"BOOL": True},
    }
    client.put_item(TableName=name, Item=item)

    def same(found: dict[str, Any]) -> None:
        assert {key: value for key, value in found.items() if key not in ("ss", "ns", "bs")} == {
            key: value for key, value in item.items() if key not in ("ss", "ns", "bs")
        }
        for key in ("ss", "ns", "bs"):
            ((kind, members),) = found[key].items()
            assert (kind, sorted(members)) == next(iter(item[key].items()))

    key = {"pk": item["pk"], "sk": item["sk"]}
    same(client.get_item(TableName=name, Key=key)["Item"])
    same(
        client.query(
            TableName=name, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": item["pk"]}
        )["Items"][0]
    )
    updated = client.update_item(
        TableName=name,
        Key=key,
        UpdateExpression="SET #n = :n",
        ExpressionAttributeNames={"#n": "n"},
        ExpressionAttributeValues={":n": {"N": "-12.5"}},
        ReturnValues="ALL_NEW",
    )
    same(updated["Attributes"])


def test_one_update_expression_text_applies_its_own_names_and_values_each_time(stack: StackHandle) -> None:
    """The embedded endpoint parses each update expression text once and reuses the tree: every
    use must still resolve its own names and values against its own item, in and out of
    transactions, and a condition failing in a later use must still roll the transaction back."""
    table = _table(stack, filler=0)
    accounts = [{"pk": f"REUSE#{n}", "sk": "BALANCE", "n": n, "state": "open"} for n in range(3)]
    table.transact([Put(account) for account in accounts])
    for n in range(3):
        table.transact([Update({"pk": f"REUSE#{n}", "sk": "BALANCE"}, add={"n": 10 * (n + 1)})])
    assert [table.get({"pk": f"REUSE#{n}", "sk": "BALANCE"})["n"] for n in range(3)] == [10, 21, 32]  # type: ignore[index]

    try:
        table.transact(
            [
                Update(
                    {"pk": "REUSE#0", "sk": "BALANCE"}, add={"n": 1}, conditions=(Equals("state", "open"),)
                ),
                Update(
                    {"pk": "REUSE#1", "sk": "BALANCE"}, add={"n": 1}, conditions=(Equals("state", "open"),)
                ),
                Update(
                    {"pk": "REUSE#2", "sk": "BALANCE"}, add={"n": 1}, conditions=(Equals("state", "closed"),)
                ),
            ]
        )
    except ConditionFailed as refused:
        assert refused.failed == [2]
    else:
        raise AssertionError("the last condition should have cancelled the transaction")
    assert [table.get({"pk": f"REUSE#{n}", "sk": "BALANCE"})["n"] for n in range(3)] == [10, 21, 32]  # type: ignore[index]


def test_an_index_query_follows_updates_and_deletes_of_its_keys_and_pages(stack: StackHandle) -> None:
    """Index queries on the embedded endpoint see index keys that moved or vanished, and page
    through the index with its cursor."""
    table = _table(stack, filler=50)
    rows = [
        {"pk": f"IDX#{n:02d}", "sk": "ROW", "gsi2pk": "IDX#one", "gsi2sk": f"{n:02d}", "n": n}
        for n in range(20)
    ]
    for start in range(0, len(rows), 10):
        table.transact([Put(row) for row in rows[start : start + 10]])
    table.transact(
        [
            Update({"pk": "IDX#03", "sk": "ROW"}, set={"gsi2pk": "IDX#two"}),
            Update({"pk": "IDX#04", "sk": "ROW"}, set={"gsi2sk": "99"}),
            Delete({"pk": "IDX#05", "sk": "ROW"}),
        ]
    )
    pages, cursor = [], None
    while True:
        page = table.query("IDX#one", index="gsi2", limit=6, cursor=cursor)
        pages.append([row["n"] for row in page.items])
        cursor = page.cursor
        if cursor is None:
            break
    expected = [n for n in range(20) if n not in (3, 4, 5)] + [4]
    assert [n for page in pages for n in page] == expected
    assert [len(page) for page in pages][:2] == [6, 6]
    assert [row["n"] for row in table.query("IDX#two", index="gsi2").items] == [3]


def test_a_queue_hands_out_messages_within_their_retention_period_only(stack: StackHandle) -> None:
    """The embedded SQS reads a queue's retention period directly (not through its whole
    attribute map) when it hands out a message: a message past the period is still withheld."""
    from moto.sqs.models import sqs_backends

    from infra.local.config import ACCOUNT_ID

    sqs = boto3.client(
        "sqs",
        endpoint_url=stack.config.endpoint_url,
        region_name=stack.config.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    url = sqs.create_queue(
        QueueName="retention-check", Attributes={"MessageRetentionPeriod": "600", "VisibilityTimeout": "0"}
    )["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="old")
    queue = sqs_backends[ACCOUNT_ID][stack.config.region].get_queue("retention-check")
    (message,) = queue._messages
    message.sent_timestamp -= 601_000  # sent 601 s before: past the queue's 600 s
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []

    message.sent_timestamp += 301_000  # 300 s before: well within it
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [message["Body"] for message in received] == ["old"]
