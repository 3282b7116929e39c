"""A small port over one DynamoDB table: conditional writes in one transaction, and queries.

Repositories are written once against :class:`Table`. :class:`~incentives.storage.dynamo_table.DynamoTable`
runs them on DynamoDB; :class:`~incentives.storage.memory_table.MemoryTable` runs them in memory with
the same all-or-nothing and condition semantics, for the deterministic simulation (where thousands of
transactions must run in seconds). A contract test runs the same cases against both.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

Key = dict[str, str]
Item = dict[str, Any]

INDEXES: dict[str, tuple[str, str]] = {
    "gsi1": ("gsi1pk", "gsi1sk"),
    "gsi2": ("gsi2pk", "gsi2sk"),
    "gsi3": ("gsi3pk", "gsi3sk"),
    "gsi4": ("gsi4pk", "gsi4sk"),
}
"""Index name → (partition attribute, sort attribute), as template.yaml declares them."""


@dataclass(frozen=True)
class NotExists:
    """The item must not exist yet."""


@dataclass(frozen=True)
class Exists:
    """The item must exist."""


@dataclass(frozen=True)
class Equals:
    name: str
    value: Any


@dataclass(frozen=True)
class AtLeast:
    """A numeric attribute must exist and be at least ``value``."""

    name: str
    value: int


@dataclass(frozen=True)
class AtMost:
    """A numeric attribute must be missing (counts as 0) or at most ``value``."""

    name: str
    value: int


Condition = NotExists | Exists | Equals | AtLeast | AtMost


@dataclass(frozen=True)
class Put:
    item: Item
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Update:
    key: Key
    add: dict[str, int] = field(default_factory=dict)
    set: dict[str, Any] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Delete:
    key: Key
    conditions: tuple[Condition, ...] = ()


Write = Put | Update | Delete

MAX_TRANSACTION_ITEMS = 100
"""DynamoDB's limit on the items of one transaction."""
MAX_ITEM_BYTES = 400 * 1024
"""DynamoDB's limit on one item (attribute names and values)."""
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024
"""DynamoDB's limit on the aggregate size of one transaction."""


def item_size(value: Any) -> int:
    """An item's (or value's) size as DynamoDB counts it: UTF-8 names and strings, numbers by
    their digits, 3 bytes of overhead per list or map (rounded up, never under)."""
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, int | float | Decimal):
        return len(str(value).lstrip("-").replace(".", "")) // 2 + 2
    if isinstance(value, dict):
        return 3 + sum(len(str(name).encode()) + 1 + item_size(inner) for name, inner in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return 3 + sum(1 + item_size(inner) for inner in value)
    raise TypeError(f"no DynamoDB size for {type(value).__name__}")


class ConditionFailed(Exception):
    """A condition did not hold; nothing was written. ``failed`` lists the failing write positions."""

    def __init__(self, failed: list[int]) -> None:
        super().__init__(f"condition failed on write(s) {failed}")
        self.failed = failed


class TransactionConflicted(Exception):
    """Another transaction in flight held one of the items; nothing was written (DynamoDB's
    ``TransactionConflict`` cancellation reason). Retrying after a pause may succeed; a write
    computed from an earlier read should be computed again (``incentives.core.retry``)."""

    def __init__(self, conflicted: list[int]) -> None:
        super().__init__(f"transaction conflict on write(s) {conflicted}")
        self.conflicted = conflicted


@dataclass(frozen=True)
class Page:
    items: list[Item]
    cursor: str | None


class Table(Protocol):
    def get(self, key: Key) -> Item | None: ...

    def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        """Several items in one round trip (consistent), in the order of ``keys``."""
        ...

    def transact(self, writes: Sequence[Write]) -> None:
        """Apply every write or none; raise :class:`ConditionFailed` if a condition fails, and
        :class:`TransactionConflicted` if another transaction in flight held one of the items."""
        ...

    def query(
        self,
        partition: str,
        *,
        index: str | None = None,
        sk_at_least: str | None = None,
        sk_at_most: str | None = None,
        sk_prefix: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        newest_first: bool = False,
    ) -> Page: ...


def put_all(table: Table, items: Sequence[Item]) -> None:
    """Put immutable, content-addressed items (the same key always holds the same value), as few
    transactions as DynamoDB's count and size limits allow.

    Unconditional and idempotent: a retry or a racing writer puts the same items again.
    """
    batch: list[Write] = []
    size = 0
    for item in items:
        weight = item_size(item) + 200
        if batch and (len(batch) == MAX_TRANSACTION_ITEMS or size + weight > MAX_TRANSACTION_BYTES * 0.9):
            table.transact(batch)
            batch, size = [], 0
        batch.append(Put(item))
        size += weight
    if batch:
        table.transact(batch)


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, UnicodeDecodeError):
        raise ValueError("cursor is not one this API returned") from None
    if not isinstance(value, dict):
        raise ValueError("cursor is not one this API returned")
    return value


def key_attributes(index: str | None) -> tuple[str, str]:
    """The (partition, sort) attribute names of the table (``None``) or of an index."""
    return INDEXES[index] if index else ("pk", "sk")


def cursor_at(item: Item, index: str | None = None) -> str | None:
    """The cursor that continues a query just after ``item`` (as DynamoDB's LastEvaluatedKey would)."""
    pk_name, sk_name = key_attributes(index)
    return encode_cursor({pk_name: item[pk_name], sk_name: item[sk_name], "pk": item["pk"], "sk": item["sk"]})


def filtered_page(
    table: Table,
    partition: str,
    keep: Callable[[Item], bool],
    *,
    index: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
    newest_first: bool = False,
    read_budget: int = 2_000,
) -> Page:
    """Up to ``limit`` items of a partition that pass ``keep``, reading on past the ones it drops.

    A page is full unless the partition ends, or ``read_budget`` items were read without filling it
    (then it is short and its cursor continues where the reading stopped): a sparse filter never
    makes one request read a whole large partition. Reads grow from ``limit`` items to 500 a call.
    """
    kept: list[Item] = []
    read, batch = 0, limit
    while True:
        page = table.query(partition, index=index, limit=batch, cursor=cursor, newest_first=newest_first)
        for position, item in enumerate(page.items):
            if keep(item):
                kept.append(item)
                if len(kept) == limit:
                    at_the_end = position == len(page.items) - 1 and page.cursor is None
                    return Page(kept, None if at_the_end else cursor_at(item, index))
        read += len(page.items)
        cursor = page.cursor
        if cursor is None or read >= read_budget:
            return Page(kept, cursor)
        batch = min(batch * 2, 500)


def query_iter(
    table: Table,
    partition: str,
    *,
    index: str | None = None,
    sk_at_least: str | None = None,
    sk_at_most: str | None = None,
    sk_prefix: str | None = None,
    newest_first: bool = False,
    page_size: int = 500,
) -> Iterator[Item]:
    """Every item of a partition (or of the part its sort-key bounds select), one page of
    ``page_size`` in memory at a time: the next page is read only when the caller reaches it, so a
    caller that stops early reads no further."""
    cursor = None
    while True:
        page = table.query(
            partition,
            index=index,
            sk_at_least=sk_at_least,
            sk_at_most=sk_at_most,
            sk_prefix=sk_prefix,
            limit=page_size,
            cursor=cursor,
            newest_first=newest_first,
        )
        yield from page.items
        cursor = page.cursor
        if cursor is None:
            return


def query_all(
    table: Table,
    partition: str,
    *,
    index: str | None = None,
    sk_prefix: str | None = None,
    newest_first: bool = False,
) -> list[Item]:
    """Every item of a partition (or of its ``sk_prefix`` part), reading every page of 500."""
    return list(query_iter(table, partition, index=index, sk_prefix=sk_prefix, newest_first=newest_first))


def due_items(table: Table, queue: str, shards: int, at_most: str, limit: int) -> list[Item]:
    """Items of a sharded ``gsi1`` work queue (``<queue>#<shard>``) whose sort key is at most
    ``at_most``, each read again from the table (consistent) and still in the queue."""
    found: list[Item] = []
    for shard in range(shards):
        cursor = None
        while len(found) < limit:
            page = table.query(
                f"{queue}#{shard}",
                index="gsi1",
                sk_at_most=at_most,
                limit=min(100, limit - len(found)),
                cursor=cursor,
            )
            for hit in page.items:
                item = table.get({"pk": hit["pk"], "sk": hit["sk"]})
                if item is not None and item.get("gsi1pk") == hit.get("gsi1pk"):
                    found.append(item)
            cursor = page.cursor
            if cursor is None:
                break
    return found[:limit]
