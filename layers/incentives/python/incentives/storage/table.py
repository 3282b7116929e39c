"""A small port over one DynamoDB table: conditional writes in one transaction, and queries.

Repositories are written once against :class:`Table`. :class:`DynamoTable` runs them on
DynamoDB; :class:`MemoryTable` runs them in memory with the same all-or-nothing and
condition semantics, for the deterministic simulation (where thousands of transactions
must run in seconds). A contract test runs the same cases against both.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from incentives.storage.dynamo import from_item, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

Key = dict[str, str]
Item = dict[str, Any]

INDEXES: dict[str, tuple[str, str]] = {
    "gsi1": ("gsi1pk", "gsi1sk"),
    "gsi2": ("gsi2pk", "gsi2sk"),
    "gsi3": ("gsi3pk", "gsi3sk"),
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


class ConditionFailed(Exception):
    """A condition did not hold; nothing was written. ``failed`` lists the failing write positions."""

    def __init__(self, failed: list[int]) -> None:
        super().__init__(f"condition failed on write(s) {failed}")
        self.failed = failed


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
        """Apply every write or none; raise :class:`ConditionFailed` if a condition fails."""
        ...

    def query(
        self,
        partition: str,
        *,
        index: str | None = None,
        sk_at_most: str | None = None,
        sk_prefix: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        newest_first: bool = False,
    ) -> Page: ...


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


def _key_attributes(index: str | None) -> tuple[str, str]:
    return INDEXES[index] if index else ("pk", "sk")


def cursor_at(item: Item, index: str | None = None) -> str | None:
    """The cursor that continues a query just after ``item`` (as DynamoDB's LastEvaluatedKey would)."""
    pk_name, sk_name = _key_attributes(index)
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


def query_all(
    table: Table,
    partition: str,
    *,
    index: str | None = None,
    sk_prefix: str | None = None,
    newest_first: bool = False,
) -> list[Item]:
    """Every item of a partition (or of its ``sk_prefix`` part), reading every page of 500."""
    found: list[Item] = []
    cursor = None
    while True:
        page = table.query(
            partition, index=index, sk_prefix=sk_prefix, limit=500, cursor=cursor, newest_first=newest_first
        )
        found += page.items
        cursor = page.cursor
        if cursor is None:
            return found


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


# --- DynamoDB -------------------------------------------------------------------------------------


def _compile_conditions(
    conditions: Sequence[Condition], names: dict[str, str], values: dict[str, Any]
) -> str:
    parts = []
    for position, condition in enumerate(conditions):
        if isinstance(condition, NotExists):
            parts.append("attribute_not_exists(pk)")
        elif isinstance(condition, Exists):
            parts.append("attribute_exists(pk)")
        elif isinstance(condition, Equals):
            names[f"#c{position}"] = condition.name
            values[f":c{position}"] = condition.value
            parts.append(f"#c{position} = :c{position}")
        elif isinstance(condition, AtLeast):
            names[f"#c{position}"] = condition.name
            values[f":c{position}"] = condition.value
            parts.append(f"#c{position} >= :c{position}")
        else:
            names[f"#c{position}"] = condition.name
            values[f":c{position}"] = condition.value
            parts.append(f"(attribute_not_exists(#c{position}) OR #c{position} <= :c{position})")
    return " AND ".join(parts)


def _compile(write: Write, table_name: str) -> tuple[str, dict[str, Any]]:
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    request: dict[str, Any] = {"TableName": table_name}
    if isinstance(write, Put):
        kind, request["Item"] = "Put", to_item(write.item)
    elif isinstance(write, Delete):
        kind, request["Key"] = "Delete", to_item(write.key)
    else:
        kind, request["Key"] = "Update", to_item(write.key)
        clauses = []
        if write.set:
            assignments = []
            for position, (name, value) in enumerate(write.set.items()):
                names[f"#s{position}"], values[f":s{position}"] = name, value
                assignments.append(f"#s{position} = :s{position}")
            clauses.append("SET " + ", ".join(assignments))
        if write.add:
            increments = []
            for position, (name, value) in enumerate(write.add.items()):
                names[f"#a{position}"], values[f":a{position}"] = name, value
                increments.append(f"#a{position} :a{position}")
            clauses.append("ADD " + ", ".join(increments))
        if write.remove:
            removals = []
            for position, name in enumerate(write.remove):
                names[f"#r{position}"] = name
                removals.append(f"#r{position}")
            clauses.append("REMOVE " + ", ".join(removals))
        request["UpdateExpression"] = " ".join(clauses)
    condition = _compile_conditions(write.conditions, names, values)
    if condition:
        request["ConditionExpression"] = condition
    if names:
        request["ExpressionAttributeNames"] = names
    if values:
        request["ExpressionAttributeValues"] = to_item(values)
    return kind, request


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; the domain works with int."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, set):
        return {_plain(item) for item in value}
    return value


class DynamoTable:
    """:class:`Table` on DynamoDB: one write is a plain conditional call, several a transaction."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._name = table_name

    def get(self, key: Key) -> Item | None:
        response = self._client.get_item(TableName=self._name, Key=to_item(key), ConsistentRead=True)
        return _plain(from_item(response["Item"])) if "Item" in response else None

    def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        wanted = list(dict.fromkeys((key["pk"], key["sk"]) for key in keys))
        found: dict[tuple[str, str], Item] = {}
        for start in range(0, len(wanted), 100):
            pending: Any = {
                self._name: {
                    "Keys": [to_item({"pk": pk, "sk": sk}) for pk, sk in wanted[start : start + 100]],
                    "ConsistentRead": True,
                }
            }
            while pending:
                response = self._client.batch_get_item(RequestItems=pending)
                for raw in response.get("Responses", {}).get(self._name, []):
                    item = _plain(from_item(raw))
                    found[(item["pk"], item["sk"])] = item
                pending = response.get("UnprocessedKeys") or None  # throttled keys: ask again
        return [found.get((key["pk"], key["sk"])) for key in keys]

    def transact(self, writes: Sequence[Write]) -> None:
        compiled = [_compile(write, self._name) for write in writes]
        try:
            if len(compiled) == 1:
                kind, request = compiled[0]
                if kind == "Put":
                    self._client.put_item(**request)
                elif kind == "Update":
                    self._client.update_item(**request)
                else:
                    self._client.delete_item(**request)
            else:
                self._client.transact_write_items(
                    TransactItems=[{kind: request} for kind, request in compiled]  # type: ignore[misc]
                )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code == "ConditionalCheckFailedException":
                raise ConditionFailed([0]) from error
            if code == "TransactionCanceledException":
                reasons = error.response.get("CancellationReasons", [])
                failed = [i for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"]
                if failed:
                    raise ConditionFailed(failed) from error
            raise

    def query(
        self,
        partition: str,
        *,
        index: str | None = None,
        sk_at_most: str | None = None,
        sk_prefix: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        newest_first: bool = False,
    ) -> Page:
        pk_name, sk_name = _key_attributes(index)
        condition = "#pk = :pk"
        values: dict[str, Any] = {":pk": partition}
        names = {"#pk": pk_name}
        if sk_at_most is not None:
            condition += " AND #sk <= :sk"
            names["#sk"], values[":sk"] = sk_name, sk_at_most
        elif sk_prefix is not None:
            condition += " AND begins_with(#sk, :sk)"
            names["#sk"], values[":sk"] = sk_name, sk_prefix
        request: dict[str, Any] = {
            "TableName": self._name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item(values),
            "Limit": limit,
            "ScanIndexForward": not newest_first,
        }
        if index:
            request["IndexName"] = index
        start = decode_cursor(cursor)
        if start:
            request["ExclusiveStartKey"] = to_item(start)
        response = self._client.query(**request)
        last = response.get("LastEvaluatedKey")
        return Page(
            [_plain(from_item(item)) for item in response.get("Items", [])],
            encode_cursor(_plain(from_item(last)) if last else None),
        )


# --- memory ---------------------------------------------------------------------------------------


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


MAX_TRANSACTION_ITEMS = 100


def _check_transaction(writes: Sequence[Write]) -> None:
    """DynamoDB's rules for a transaction, so code that breaks them fails in memory too."""
    if len(writes) > MAX_TRANSACTION_ITEMS:
        raise ValueError(f"a transaction holds at most {MAX_TRANSACTION_ITEMS} items, not {len(writes)}")
    keys = [
        (w.item["pk"], w.item["sk"]) if isinstance(w, Put) else (w.key["pk"], w.key["sk"]) for w in writes
    ]
    if len(set(keys)) != len(keys):
        raise ValueError("a transaction cannot include several operations on one item")


_PARTITION_ATTRIBUTES = ("pk", *(partition for partition, _ in INDEXES.values()))


class MemoryTable:
    """:class:`Table` in memory, same semantics; ``writes`` counts committed transactions.

    Items are indexed by the table's and every index's partition key, so a query reads its
    partition only (as DynamoDB does), whatever the table holds.
    """

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Item] = {}
        self.writes = 0
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

    def get(self, key: Key) -> Item | None:
        with self._lock:
            item = self.items.get(self._key(key))
            return deepcopy(item) if item is not None else None

    def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        return [self.get(key) for key in keys]

    def transact(self, writes: Sequence[Write]) -> None:
        _check_transaction(writes)
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
                    self.items[where] = deepcopy(write.item)
                elif isinstance(write, Delete):
                    self.items.pop(where, None)
                    continue
                else:
                    item = self.items.setdefault(where, dict(write.key))
                    item.update(deepcopy(write.set))
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
        sk_at_most: str | None = None,
        sk_prefix: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        newest_first: bool = False,
    ) -> Page:
        pk_name, sk_name = _key_attributes(index)
        with self._lock:
            members = self._partitions[pk_name].get(partition, ())
            hits = [
                item
                for item in (self.items[key] for key in members)
                if sk_name in item
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
            page, more = [deepcopy(item) for item in hits[:limit]], len(hits) > limit
        last = page[-1] if more and page else None
        next_key = (
            {pk_name: last[pk_name], sk_name: last[sk_name], "pk": last["pk"], "sk": last["sk"]}
            if last
            else None
        )
        return Page(page, encode_cursor(next_key))
