"""Tenant-wide listings over write-sharded index partitions, read back as one list in order.

A tenant-wide listing writes each item to one of a few index partitions (``<listing>#S<n>``,
:func:`incentives.storage.keys.listing_partition`), so no burst of writes lands on one index key.
:func:`merged_page` reads the shards and merges them in sort order (a k-way merge), one page at a
time: each shard is queried once a page for up to ``limit`` items (again only when a filter drops
what it read), so a page costs the same round trips whatever the tenant holds.

The cursor is opaque: compressed JSON in base64 holding each shard's position (the index key of
the last item the merge took from it, ``0`` once it is exhausted, nothing before it is read) and a
tag of the listing and its key bounds, so a cursor of another listing is refused, not misread.
"""

from __future__ import annotations

import base64
import contextvars
import heapq
import json
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from incentives.storage.table import Item, Page, Table, encode_cursor, key_attributes

_VERSION = 1
Position = list[str] | int | None
"""A shard's place: ``None`` not read yet, ``0`` exhausted, ``[index sk, pk, sk]`` after that item."""


class BadCursor(ValueError):
    """The cursor is not one this listing returned."""

    def __init__(self) -> None:
        super().__init__("cursor is not one this API returned")


def _tag(partitions: Sequence[str], index: str | None, bounds: tuple[Any, ...]) -> int:
    return zlib.crc32(json.dumps([list(partitions), index, *bounds]).encode())


def encode_positions(tag: int, positions: Sequence[Position]) -> str:
    raw = json.dumps({"v": _VERSION, "t": tag, "p": list(positions)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(zlib.compress(raw.encode(), 9)).decode().rstrip("=")


def decode_positions(
    cursor: str, tag: int, shards: int, sk_at_least: str | None = None, sk_at_most: str | None = None
) -> list[Position]:
    """The shard positions of ``cursor``; :class:`BadCursor` unless this listing made it. A position
    names a non-empty sort key inside the listing's bounds and non-empty table keys: anything else
    could only be forged, and would reach the database as a start key it refuses."""
    try:
        raw = zlib.decompress(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        value = json.loads(raw)
    except (ValueError, zlib.error):
        raise BadCursor() from None
    if not isinstance(value, dict) or value.get("v") != _VERSION or value.get("t") != tag:
        raise BadCursor()
    positions = value.get("p")
    if not isinstance(positions, list) or len(positions) != shards:
        raise BadCursor()
    for position in positions:
        valid = (
            position is None
            or position == 0
            or (
                isinstance(position, list)
                and len(position) == 3
                and all(isinstance(part, str) and part for part in position)
                and (sk_at_least is None or position[0] >= sk_at_least)
                and (sk_at_most is None or position[0] <= sk_at_most)
            )
        )
        if not valid or position is False:
            raise BadCursor()
    return positions


class _Shard:
    """One shard's read-ahead: the items read and not merged yet, and where its query goes on."""

    def __init__(self, number: int, partition: str, position: Position) -> None:
        self.number, self.partition, self.position = number, partition, position
        self.buffer: list[Item] = []
        self.next_cursor: str | None = None
        self.exhausted = position == 0

    def start(self, index: str | None) -> str | None:
        """The query cursor that continues after this shard's position."""
        if self.next_cursor is not None:
            return self.next_cursor
        if not isinstance(self.position, list):
            return None
        pk_name, sk_name = key_attributes(index)
        sort, pk, sk = self.position
        return encode_cursor({pk_name: self.partition, sk_name: sort, "pk": pk, "sk": sk})


def merged_page(
    table: Table,
    partitions: Sequence[str],
    *,
    index: str,
    limit: int,
    cursor: str | None = None,
    newest_first: bool = False,
    sk_at_least: str | None = None,
    sk_at_most: str | None = None,
    keep: Callable[[Item], bool] | None = None,
    read_budget: int = 2_000,
) -> Page:
    """Up to ``limit`` items of the shards ``partitions`` of one listing, merged in index order
    (ties by table key), optionally between two sort keys (a key condition) and only those
    ``keep`` accepts. The page is full unless the listing ends or ``read_budget`` items were read
    without filling it (a sparse filter then gives a short page and a cursor that goes on)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    _, sk_name = key_attributes(index)
    tag = _tag(partitions, index, (newest_first, sk_at_least, sk_at_most))
    positions = (
        decode_positions(cursor, tag, len(partitions), sk_at_least, sk_at_most)
        if cursor
        else [None] * len(partitions)
    )
    shards = [_Shard(n, p, positions[n]) for n, p in enumerate(partitions)]

    def fill(shard: _Shard) -> None:
        page = table.query(
            shard.partition,
            index=index,
            sk_at_least=sk_at_least,
            sk_at_most=sk_at_most,
            limit=limit,
            cursor=shard.start(index),
            newest_first=newest_first,
        )
        shard.buffer, shard.next_cursor = page.items, page.cursor
        if not page.items and page.cursor is None:
            shard.exhausted = True

    live = [shard for shard in shards if not shard.exhausted]
    if len(live) > 1:  # one round trip of latency for every shard's first read
        with ThreadPoolExecutor(max_workers=len(live)) as pool:
            # each read in the caller's context (its logging keys, tracing, the caller's identity)
            reads = [pool.submit(contextvars.copy_context().run, fill, shard) for shard in live]
            for pending in reads:
                pending.result()
    else:
        for shard in live:
            fill(shard)

    def order(item: Item) -> tuple[str, str, str]:
        return (str(item[sk_name]), str(item["pk"]), str(item["sk"]))

    sign = -1 if newest_first else 1
    heap: list[tuple[Any, int]] = []

    def push(shard: _Shard) -> None:
        if shard.buffer:
            sort, pk, sk = order(shard.buffer[0])
            key = (_Reversed((sort, pk, sk)) if sign < 0 else (sort, pk, sk), shard.number)
            heapq.heappush(heap, key)

    for shard in live:
        push(shard)
    kept: list[Item] = []
    read = 0
    while heap and len(kept) < limit and read < read_budget:
        _, number = heapq.heappop(heap)
        shard = shards[number]
        item = shard.buffer.pop(0)
        read += 1
        shard.position = list(order(item))
        if keep is None or keep(item):
            kept.append(item)
        if not shard.buffer:
            if shard.next_cursor is None:
                shard.exhausted = True
            elif len(kept) < limit:  # read on only while the page needs more
                fill(shard)
        push(shard)
    for shard in shards:
        if shard.exhausted:
            shard.position = 0
    if all(shard.exhausted for shard in shards):
        return Page(kept, None)
    return Page(kept, encode_positions(tag, [shard.position for shard in shards]))


class _Reversed:
    """A key that sorts in the reverse order of its value (newest first on a min-heap)."""

    __slots__ = ("value",)

    def __init__(self, value: tuple[str, str, str]) -> None:
        self.value = value

    def __lt__(self, other: _Reversed) -> bool:
        return self.value > other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)


def merged_all(
    table: Table,
    partitions: Sequence[str],
    *,
    index: str,
    newest_first: bool = False,
    page_size: int = 500,
) -> list[Item]:
    """Every item of a sharded listing in order (for the few reads that need the whole of one)."""
    found: list[Item] = []
    cursor = None
    while True:
        page = merged_page(
            table, partitions, index=index, limit=page_size, cursor=cursor, newest_first=newest_first
        )
        found += page.items
        cursor = page.cursor
        if cursor is None:
            return found
