""":class:`~incentives.storage.table.Table` in memory with DynamoDB's all-or-nothing and condition
semantics, for the deterministic simulation and unit tests; optionally with DynamoDB's transaction
conflicts on simulated time (``incentives.storage.contention``)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from incentives.storage.contention import Contention
from incentives.storage.table import (
    INDEXES,
    MAX_ITEM_BYTES,
    MAX_TRANSACTION_BYTES,
    MAX_TRANSACTION_ITEMS,
    AtMost,
    Condition,
    ConditionFailed,
    Delete,
    Equals,
    Exists,
    Item,
    Key,
    NotExists,
    Page,
    Put,
    TransactionConflicted,
    Update,
    Write,
    decode_cursor,
    encode_cursor,
    item_size,
    key_attributes,
)


def _holds(condition: Condition, current: Item | None) -> bool:
    if isinstance(condition, NotExists):
        return current is None
    if isinstance(condition, Exists):
        return current is not None
    if isinstance(condition, Equals):
        return current is not None and current.get(condition.name) == condition.value
    if isinstance(condition, AtMost):
        return bool((current or {}).get(condition.name, 0) <= condition.value)
    return (
        current is not None and condition.name in current and bool(current[condition.name] >= condition.value)
    )


def _check_transaction(writes: Sequence[Write]) -> None:
    """DynamoDB's rules for a transaction, so code that breaks them fails in memory too."""
    if len(writes) > MAX_TRANSACTION_ITEMS:
        raise ValueError(f"a transaction holds at most {MAX_TRANSACTION_ITEMS} items, not {len(writes)}")
    keys = [
        (w.item["pk"], w.item["sk"]) if isinstance(w, Put) else (w.key["pk"], w.key["sk"]) for w in writes
    ]
    if len(set(keys)) != len(keys):
        raise ValueError("a transaction cannot include several operations on one item")
    sizes = [item_size(w.item) if isinstance(w, Put) else item_size(w.key) for w in writes]
    if max(sizes, default=0) > MAX_ITEM_BYTES:
        raise ValueError(f"an item holds at most {MAX_ITEM_BYTES} bytes, not {max(sizes)}")
    updates = sum(item_size(w.set) + item_size(w.add) for w in writes if isinstance(w, Update))
    if sum(sizes) + updates > MAX_TRANSACTION_BYTES:
        raise ValueError(f"a transaction holds at most {MAX_TRANSACTION_BYTES} bytes")


_PARTITION_ATTRIBUTES = ("pk", *(partition for partition, _ in INDEXES.values()))


def _copied(value: Any) -> Any:
    """A copy of an item's value that shares nothing mutable with it: DynamoDB's attribute values
    are maps, lists, sets and immutable scalars, so this is ``copy.deepcopy`` without its memo
    (several times faster, which the simulation's thousands of reads feel)."""
    if isinstance(value, dict):
        return {key: _copied(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_copied(inner) for inner in value]
    if isinstance(value, set):
        return set(value)
    return value


class MemoryTable:
    """:class:`Table` in memory, same semantics; ``writes`` counts committed transactions.

    Items are indexed by the table's and every index's partition key, so a query reads its
    partition only (as DynamoDB does), whatever the table holds.

    With ``contention`` (opt-in), each write call holds its items for a while of simulated time
    and commits at its end, each read takes a while, and a write call that touches an item
    another one holds raises :class:`TransactionConflicted` (counted in ``conflicts``), as
    DynamoDB does. Without it, writes commit at once and never conflict.
    """

    def __init__(self, contention: Contention | None = None) -> None:
        self.items: dict[tuple[str, str], Item] = {}
        self.writes = 0
        self.conflicts = 0
        self._contention = contention
        self._held: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._partitions: dict[str, dict[Any, set[tuple[str, str]]]] = {
            attribute: {} for attribute in _PARTITION_ATTRIBUTES
        }

    @staticmethod
    def _key(key: Key) -> tuple[str, str]:
        return key["pk"], key["sk"]

    def _unindex(self, key: tuple[str, str]) -> None:
        item = self.items.get(key)
        if item is None:
            return
        for attribute, partitions in self._partitions.items():
            if attribute in item:
                members = partitions.get(item[attribute])
                if members is not None:
                    members.discard(key)
                    if not members:
                        del partitions[item[attribute]]

    def _index(self, key: tuple[str, str]) -> None:
        item = self.items[key]
        for attribute, partitions in self._partitions.items():
            if attribute in item:
                partitions.setdefault(item[attribute], set()).add(key)

    def _round_trip(self) -> None:
        if self._contention is not None:
            self._contention.timeline.wait(self._contention.read_seconds)

    def get(self, key: Key) -> Item | None:
        self._round_trip()
        return self._read(key)

    def _read(self, key: Key) -> Item | None:
        with self._lock:
            item = self.items.get(self._key(key))
            return _copied(item) if item is not None else None

    def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        self._round_trip()
        return [self._read(key) for key in keys]

    def transact(self, writes: Sequence[Write]) -> None:
        _check_transaction(writes)
        if self._contention is None:
            self._commit(writes)
            return
        timeline, hold = self._contention.timeline, self._contention.hold_seconds
        where = [self._key(write.item if isinstance(write, Put) else write.key) for write in writes]
        with self._lock:
            start = timeline.now()
            conflicted = [i for i, key in enumerate(where) if self._held.get(key, start) > start]
            if conflicted:
                self.conflicts += 1
                raise TransactionConflicted(conflicted)
            for key in where:
                self._held[key] = start + hold
        try:
            timeline.wait(hold)
            self._commit(writes)
        finally:
            with self._lock:
                for key in where:
                    if self._held.get(key) == start + hold:
                        del self._held[key]

    def _commit(self, writes: Sequence[Write]) -> None:
        with self._lock:
            failed = []
            for position, write in enumerate(writes):
                key = write.item if isinstance(write, Put) else write.key
                current = self.items.get(self._key({"pk": key["pk"], "sk": key["sk"]}))
                if not all(_holds(condition, current) for condition in write.conditions):
                    failed.append(position)
            if failed:
                raise ConditionFailed(failed)
            for write in writes:
                where = self._key(write.item if isinstance(write, Put) else write.key)
                self._unindex(where)
                if isinstance(write, Put):
                    self.items[where] = _copied(write.item)
                elif isinstance(write, Delete):
                    self.items.pop(where, None)
                    continue
                else:
                    item = self.items.setdefault(where, dict(write.key))
                    item.update(_copied(write.set))
                    for name, amount in write.add.items():
                        item[name] = item.get(name, 0) + amount
                    for name in write.remove:
                        item.pop(name, None)
                self._index(where)
            self.writes += 1

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
    ) -> Page:
        pk_name, sk_name = key_attributes(index)
        self._round_trip()
        with self._lock:
            members = self._partitions[pk_name].get(partition, ())
            hits = [
                item
                for item in (self.items[key] for key in members)
                if sk_name in item
                and (sk_at_least is None or item[sk_name] >= sk_at_least)
                and (sk_at_most is None or item[sk_name] <= sk_at_most)
                and (sk_prefix is None or str(item[sk_name]).startswith(sk_prefix))
            ]
            start = decode_cursor(cursor)
            if start:
                marker = (start[sk_name], start["pk"], start["sk"])
                hits = [
                    item
                    for item in hits
                    if (
                        (item[sk_name], item["pk"], item["sk"]) < marker
                        if newest_first
                        else (item[sk_name], item["pk"], item["sk"]) > marker
                    )
                ]
            hits.sort(key=lambda item: (item[sk_name], item["pk"], item["sk"]), reverse=newest_first)
            page, more = [_copied(item) for item in hits[:limit]], len(hits) > limit
        last = page[-1] if more and page else None
        next_key = (
            {pk_name: last[pk_name], sk_name: last[sk_name], "pk": last["pk"], "sk": last["sk"]}
            if last
            else None
        )
        return Page(page, encode_cursor(next_key))
