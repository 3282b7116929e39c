"""The same Table contract on DynamoDB (moto) and in memory, so the simulation's table is faithful."""

from collections.abc import Iterator
from typing import Any

import pytest

from incentives.storage.contention import Contention, Sequential
from incentives.storage.dynamo_table import DynamoTable
from incentives.storage.memory_table import MemoryTable
from incentives.storage.table import (
    AtLeast,
    AtMost,
    ConditionFailed,
    Delete,
    Equals,
    Exists,
    NotExists,
    Put,
    Table,
    Update,
    filtered_page,
)


@pytest.fixture(params=["memory", "memory-contended", "dynamodb"])
def table(request: pytest.FixtureRequest) -> Iterator[Table]:
    if request.param == "memory":
        yield MemoryTable()
        return
    if request.param == "memory-contended":  # one caller never conflicts with itself
        yield MemoryTable(Contention(Sequential()))
        return
    import boto3
    from moto import mock_aws

    from infra.local.template import read_stack

    properties = read_stack().document["Resources"]["IncentivesTable"]["Properties"]
    with mock_aws():
        client = boto3.client("dynamodb", region_name="ap-southeast-1")
        client.create_table(
            TableName="t",
            KeySchema=properties["KeySchema"],
            AttributeDefinitions=properties["AttributeDefinitions"],
            GlobalSecondaryIndexes=properties["GlobalSecondaryIndexes"],
            BillingMode="PAY_PER_REQUEST",
        )
        yield DynamoTable(client, "t")


def _item(pk: str, sk: str = "S", **values: Any) -> dict[str, Any]:
    return {"pk": pk, "sk": sk, **values}


def test_put_get_and_not_exists(table: Table) -> None:
    table.transact([Put(_item("a", n=1), (NotExists(),))])
    assert table.get({"pk": "a", "sk": "S"}) == _item("a", n=1)
    with pytest.raises(ConditionFailed):
        table.transact([Put(_item("a", n=2), (NotExists(),))])
    assert table.get({"pk": "a", "sk": "S"}) == _item("a", n=1)


def test_a_failed_condition_writes_nothing_of_the_transaction(table: Table) -> None:
    table.transact([Put(_item("a", n=1))])
    with pytest.raises(ConditionFailed) as failure:
        table.transact(
            [Put(_item("b", n=1)), Update({"pk": "a", "sk": "S"}, add={"n": 5}, conditions=(Equals("n", 9),))]
        )
    assert failure.value.failed == [1]
    assert table.get({"pk": "b", "sk": "S"}) is None
    assert table.get({"pk": "a", "sk": "S"}) == _item("a", n=1)


def test_update_adds_sets_and_removes(table: Table) -> None:
    table.transact([Update({"pk": "a", "sk": "S"}, add={"n": 3}, set={"x": "y"})])
    table.transact(
        [Update({"pk": "a", "sk": "S"}, add={"n": -1}, remove=("x",), conditions=(AtLeast("n", 3),))]
    )
    assert table.get({"pk": "a", "sk": "S"}) == _item("a", n=2)
    with pytest.raises(ConditionFailed):
        table.transact([Update({"pk": "a", "sk": "S"}, add={"n": -3}, conditions=(AtLeast("n", 3),))])
    with pytest.raises(ConditionFailed):
        table.transact([Update({"pk": "b", "sk": "S"}, add={"n": -1}, conditions=(AtLeast("m", 1),))])


def test_at_most_treats_a_missing_attribute_as_zero(table: Table) -> None:
    table.transact([Update({"pk": "a", "sk": "S"}, add={"n": 3}, conditions=(AtMost("n", 0),))])
    table.transact([Update({"pk": "a", "sk": "S"}, add={"n": 2}, conditions=(AtMost("n", 3),))])
    with pytest.raises(ConditionFailed):
        table.transact([Update({"pk": "a", "sk": "S"}, add={"n": 1}, conditions=(AtMost("n", 4),))])
    assert table.get({"pk": "a", "sk": "S"}) == _item("a", n=5)


def test_delete_with_condition(table: Table) -> None:
    table.transact([Put(_item("a", n=1))])
    with pytest.raises(ConditionFailed):
        table.transact([Delete({"pk": "a", "sk": "S"}, (Equals("n", 2),))])
    table.transact([Delete({"pk": "a", "sk": "S"}, (Exists(), Equals("n", 1)))])
    assert table.get({"pk": "a", "sk": "S"}) is None


def test_queries_page_in_order_on_the_table_and_an_index(table: Table) -> None:
    table.transact([Put(_item("p", f"E#{i:02d}", gsi2pk="G", gsi2sk=f"{10 - i:02d}")) for i in range(7)])
    seen, cursor = [], None
    while True:
        page = table.query("p", sk_prefix="E#", limit=3, cursor=cursor)
        seen += [item["sk"] for item in page.items]
        cursor = page.cursor
        if cursor is None:
            break
    assert seen == [f"E#{i:02d}" for i in range(7)]
    newest = table.query("G", index="gsi2", limit=2, newest_first=True)
    assert [item["gsi2sk"] for item in newest.items] == ["10", "09"]
    rest = table.query("G", index="gsi2", limit=10, newest_first=True, cursor=newest.cursor)
    assert [item["gsi2sk"] for item in rest.items] == ["08", "07", "06", "05", "04"]
    assert [i["sk"] for i in table.query("p", sk_at_most="E#01").items] == ["E#00", "E#01"]
    assert [i["sk"] for i in table.query("p", sk_at_least="E#05").items] == ["E#05", "E#06"]
    between = table.query("G", index="gsi2", sk_at_least="05", sk_at_most="07", newest_first=True)
    assert [i["gsi2sk"] for i in between.items] == ["07", "06", "05"]


def test_a_merged_listing_pages_its_shards_in_order_on_both_tables(table: Table) -> None:
    """The k-way merge continues each shard from the cursor's positions (DynamoDB's
    ExclusiveStartKey on an index) and keeps its time bounds as a key condition."""
    from incentives.storage.sharded import merged_page

    shards = [f"L#S{n}" for n in range(3)]
    table.transact(
        [Put(_item(f"i{n:02d}", gsi2pk=shards[n % 3], gsi2sk=f"2026-01-{n + 1:02d}#{n}")) for n in range(20)]
    )
    seen, cursor = [], None
    while True:
        page = merged_page(
            table, shards, index="gsi2", limit=4, cursor=cursor, newest_first=True, sk_at_least="2026-01-03"
        )
        seen += [item["pk"] for item in page.items]
        cursor = page.cursor
        if cursor is None:
            break
    assert seen == [f"i{n:02d}" for n in range(19, 1, -1)]


def test_a_filtered_page_reads_past_what_it_drops_so_pages_stay_full(table: Table) -> None:
    """Every third item is kept: pages of 2 stay full, and following the cursors yields each kept
    item once, newest first (a filter after paging would give short and empty pages)."""
    table.transact(
        [Put(_item(f"i{n:02d}", gsi3pk="P", gsi3sk=f"{n:02d}", mine=n % 3 == 0)) for n in range(20)]
    )
    pages, cursor = [], None
    while True:
        page = filtered_page(
            table,
            "P",
            lambda item: bool(item["mine"]),
            index="gsi3",
            limit=2,
            cursor=cursor,
            newest_first=True,
        )
        pages.append([item["gsi3sk"] for item in page.items])
        cursor = page.cursor
        if cursor is None:
            break
    assert pages == [["18", "15"], ["12", "09"], ["06", "03"], ["00"]]


def test_a_filtered_page_stops_at_its_read_budget_with_a_cursor_that_continues(table: Table) -> None:
    table.transact([Put(_item(f"i{n:02d}", gsi3pk="P", gsi3sk=f"{n:02d}", mine=n == 0)) for n in range(12)])
    first = filtered_page(
        table, "P", lambda item: bool(item["mine"]), index="gsi3", limit=5, newest_first=True, read_budget=5
    )
    assert first.items == [] and first.cursor
    rest = filtered_page(
        table,
        "P",
        lambda item: bool(item["mine"]),
        index="gsi3",
        limit=5,
        newest_first=True,
        cursor=first.cursor,
    )
    assert [item["gsi3sk"] for item in rest.items] == ["00"] and rest.cursor is None


def test_get_many_answers_in_the_order_asked_with_none_for_missing(table: Table) -> None:
    table.transact([Put({"pk": "a", "sk": "1", "n": 1}), Put({"pk": "b", "sk": "1", "n": 2})])
    keys = [
        {"pk": "b", "sk": "1"},
        {"pk": "missing", "sk": "1"},
        {"pk": "a", "sk": "1"},
        {"pk": "b", "sk": "1"},
    ]
    found = table.get_many(keys)
    assert [item and item["n"] for item in found] == [2, None, 1, 2]


def test_a_transaction_of_more_than_100_items_or_two_writes_on_one_item_is_refused(table: Table) -> None:
    with pytest.raises(Exception) as too_many:
        table.transact([Put({"pk": f"p{n}", "sk": "1"}) for n in range(101)])
    assert not isinstance(too_many.value, ConditionFailed)
    with pytest.raises(Exception) as twice:
        table.transact([Put({"pk": "p", "sk": "1"}), Update({"pk": "p", "sk": "1"}, add={"n": 1})])
    assert not isinstance(twice.value, ConditionFailed)
    assert table.get({"pk": "p0", "sk": "1"}) is None and table.get({"pk": "p", "sk": "1"}) is None
