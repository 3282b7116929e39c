"""The k-way merge of write-sharded listings (incentives.storage.sharded): pages come out in
index order, every item exactly once across pages for any page size, and a cursor the listing
did not make is refused."""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incentives.storage import keys
from incentives.storage.memory_table import MemoryTable
from incentives.storage.sharded import BadCursor, merged_all, merged_page
from incentives.storage.table import Item, Page, Put

LISTING = "T#ww-1#THINGS"


def _fill(table: MemoryTable, sorts: list[str], shards: int = keys.LISTING_SHARDS) -> list[Item]:
    items = []
    for number, sort in enumerate(sorts):
        identity = f"id-{number}"
        item = {
            "pk": f"T#ww-1#THING#{identity}",
            "sk": "THING",
            "gsi2pk": f"{LISTING}#S{keys.shard(identity, shards)}",
            "gsi2sk": sort,
            "n": number,
        }
        items.append(item)
    for start in range(0, len(items), 100):
        table.transact([Put(item) for item in items[start : start + 100]])
    return items


def _order(item: Item) -> tuple[str, str, str]:
    return (item["gsi2sk"], item["pk"], item["sk"])


def _pages(table: Any, shards: int, limit: int, **options: Any) -> list[Page]:
    partitions = [f"{LISTING}#S{n}" for n in range(shards)]
    pages, cursor = [], None
    while len(pages) <= 10_000:  # a cursor that never moves on fails here, not by hanging
        page = merged_page(table, partitions, index="gsi2", limit=limit, cursor=cursor, **options)
        pages.append(page)
        cursor = page.cursor
        if cursor is None:
            return pages
    raise AssertionError("the listing never ended")


# Sort keys share prefixes and collide (several items at one instant): ties go by table key.
SORTS = st.lists(st.sampled_from(["2026-01-01", "2026-01-02", "2026-02-01", "2026-02-01#x", "a", "b"]))


@settings(max_examples=60, deadline=None)
@given(
    sorts=SORTS,
    shards=st.integers(1, 16),
    limit=st.integers(1, 12),
    newest_first=st.booleans(),
)
def test_pages_merge_the_shards_in_order_and_lose_or_repeat_nothing(
    sorts: list[str], shards: int, limit: int, newest_first: bool
) -> None:
    table = MemoryTable()
    items = _fill(table, sorts, shards)
    pages = _pages(table, shards, limit, newest_first=newest_first)
    seen = [item for page in pages for item in page.items]
    assert [item["n"] for item in seen] == [
        item["n"] for item in sorted(items, key=_order, reverse=newest_first)
    ]
    assert all(len(page.items) == limit for page in pages[:-1])  # no filter: every page but the last is full
    assert len(pages[-1].items) <= limit


@settings(max_examples=40, deadline=None)
@given(
    sorts=SORTS,
    limit=st.integers(1, 6),
    budget=st.integers(1, 40),
    low=st.sampled_from([None, "2026-01-02", "a"]),
    high=st.sampled_from([None, "2026-02-01$", "b"]),
)
def test_a_filter_and_key_bounds_keep_the_order_and_every_match(
    sorts: list[str], limit: int, budget: int, low: str | None, high: str | None
) -> None:
    """A sparse filter may give short pages (the read budget), never a lost or repeated match."""
    table = MemoryTable()
    items = _fill(table, sorts, 2)
    pages = _pages(
        table, 2, limit, sk_at_least=low, sk_at_most=high, keep=lambda i: i["n"] % 4 == 0, read_budget=budget
    )
    wanted = [
        item["n"]
        for item in sorted(items, key=_order)
        if item["n"] % 4 == 0
        and (low is None or item["gsi2sk"] >= low)
        and (high is None or item["gsi2sk"] <= high)
    ]
    assert [item["n"] for page in pages for item in page.items] == wanted
    assert all(len(page.items) <= limit for page in pages)
    if budget >= len(items):  # the budget never ran out: every page but the last is full
        assert all(len(page.items) == limit for page in pages[:-1])


class CountingTable:
    """A table that counts its round trips (queries)."""

    def __init__(self, table: MemoryTable) -> None:
        self.table, self.queries = table, 0

    def query(self, partition: str, **options: Any) -> Page:
        self.queries += 1
        return self.table.query(partition, **options)


@pytest.mark.parametrize("rows", [300, 3_000])
def test_a_page_costs_one_query_per_shard_whatever_the_listing_holds(rows: int) -> None:
    table = MemoryTable()
    _fill(table, [f"2026-01-01T{n:06d}" for n in range(rows)])
    counting = CountingTable(table)
    partitions = keys.listing_partitions(LISTING)
    first = merged_page(counting, partitions, index="gsi2", limit=50, newest_first=True)  # type: ignore[arg-type]
    assert counting.queries == keys.LISTING_SHARDS
    merged_page(counting, partitions, index="gsi2", limit=50, cursor=first.cursor, newest_first=True)  # type: ignore[arg-type]
    assert counting.queries == 2 * keys.LISTING_SHARDS


def test_merged_all_reads_every_item_in_order() -> None:
    table = MemoryTable()
    items = _fill(table, [f"k{n:04d}" for n in range(1_234)])
    found = merged_all(
        table, keys.listing_partitions(LISTING), index="gsi2", newest_first=True, page_size=100
    )
    assert [item["n"] for item in found] == [item["n"] for item in sorted(items, key=_order, reverse=True)]


def _forged(value: Any) -> str:
    return base64.urlsafe_b64encode(zlib.compress(json.dumps(value).encode())).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "o50",
        base64.urlsafe_b64encode(b'{"pk": "x"}').decode(),  # a single-partition cursor
        _forged([1, 2]),
        _forged({"v": 1, "t": 0, "p": [None] * 16}),  # another listing's tag
    ],
)
def test_a_cursor_the_listing_did_not_make_is_refused(cursor: str) -> None:
    table = MemoryTable()
    _fill(table, ["a", "b", "c"])
    with pytest.raises(BadCursor, match="cursor"):
        merged_page(table, keys.listing_partitions(LISTING), index="gsi2", limit=1, cursor=cursor)


def test_a_cursor_of_other_bounds_or_with_a_wrong_position_is_refused() -> None:
    table = MemoryTable()
    _fill(table, ["a", "b", "c", "d"])
    partitions = keys.listing_partitions(LISTING)
    first = merged_page(table, partitions, index="gsi2", limit=1)
    assert first.cursor is not None
    with pytest.raises(BadCursor):
        merged_page(table, partitions, index="gsi2", limit=1, cursor=first.cursor, sk_at_least="b")
    raw = json.loads(zlib.decompress(base64.urlsafe_b64decode(first.cursor + "=" * (-len(first.cursor) % 4))))
    raw["p"][0] = {"pk": "elsewhere"}
    with pytest.raises(BadCursor):
        merged_page(table, partitions, index="gsi2", limit=1, cursor=_forged(raw))


def test_a_forged_position_outside_the_bounds_or_empty_is_refused_before_any_read() -> None:
    """Positions naming a sort key outside the listing's bounds, or empty keys, reach DynamoDB as
    a start key it refuses (a 5xx): the cursor is refused first, as a 400."""
    table = MemoryTable()
    _fill(table, ["b", "c", "d"])
    partitions = keys.listing_partitions(LISTING)
    first = merged_page(table, partitions, index="gsi2", limit=1, sk_at_least="b", sk_at_most="d")
    assert first.cursor is not None
    raw = json.loads(zlib.decompress(base64.urlsafe_b64decode(first.cursor + "=" * (-len(first.cursor) % 4))))
    for forged in (["a", "pk", "sk"], ["z", "pk", "sk"], ["c", "", "sk"], ["", "pk", "sk"]):
        raw["p"][0] = forged
        with pytest.raises(BadCursor):
            merged_page(
                table, partitions, index="gsi2", limit=1, cursor=_forged(raw), sk_at_least="b", sk_at_most="d"
            )


def test_an_item_is_always_written_to_the_same_shard_of_sixteen() -> None:
    shards = {keys.listing_partition(LISTING, f"order-{n}") for n in range(2_000)}
    assert shards == set(keys.listing_partitions(LISTING))
    assert keys.listing_partition(LISTING, "order-7") == keys.listing_partition(LISTING, "order-7")
