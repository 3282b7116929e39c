"""Storage of the order aggregate: a small head item per order, large facts in part items.

The head (``STATE``) holds the order's status, version, figures, applied event ids and its facts
— inline while they fit :data:`HEAD_FACT_BUDGET`, in arrival order. A fact that does not fit (a
payment or a refund of hundreds of lines) is stored as content-addressed part items in the
order's partition (``PART#<sha256>#<n>``, at most :data:`PART_CHARS` each) and the head names
them. Parts are written first with plain idempotent puts (the same key always holds the same
text), then the head is committed under its version condition: until it is, no reader sees
them, so an order is never half-applied whatever the size of the write (docs/decisions.md).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from incentives.core.clock import iso_utc, parse_instant
from incentives.core.errors import ConcurrentModification
from incentives.fanout.model import DueQueue
from incentives.messages.internal import AfterSalesWindowClosed
from incentives.orders.aggregate import OrderState
from incentives.orders.ports import DueOrder
from incentives.storage import keys
from incentives.storage.due import TableDueIndex, due_at, due_attributes
from incentives.storage.table import (
    ConditionFailed,
    Equals,
    NotExists,
    Put,
    Table,
    put_all,
)
from incentives.webhook.models import OrderCompleted, OrderPaid, OrderRefunded

HEAD_FACT_BUDGET = 32_000
"""Characters of facts kept inline in the head; the rest go to parts (the head stays small
enough to join any transaction of the ``order.paid`` path)."""
PART_CHARS = 300_000
"""Characters of one part item, under DynamoDB's 400 KB item limit: facts are stored as ASCII JSON
(``\\uXXXX`` escapes for Chinese), so a character is a byte."""
PARTS = "$parts"
"""A fact stored in parts: ``{"$parts": [<sort keys>]}`` in place of its document."""
PART_PREFIX = "PART#"


def _json(value: Any) -> str:
    """Compact ASCII JSON: its length is its size in bytes, whatever the language of the text."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True)


def _placed(text: str, room: int, parts: dict[str, str]) -> tuple[Any, int]:
    """A fact's slot in the head (its document, or the names of its parts) and the room left."""
    if len(text) <= room:
        return json.loads(text), room - len(text)
    digest = hashlib.sha256(text.encode()).hexdigest()[:32]
    names = []
    for index, start in enumerate(range(0, len(text), PART_CHARS)):
        name = f"{PART_PREFIX}{digest}#{index:03d}"
        parts[name] = text[start : start + PART_CHARS]
        names.append(name)
    return {PARTS: names}, room


def state_to_document(state: OrderState) -> tuple[dict[str, Any], dict[str, str]]:
    """The head's document and the parts it names (sort key → text).

    Facts are placed in arrival order (the payment, then refunds as they came), so a fact once
    stored keeps its place when later facts are added: its parts never need writing again.
    """
    parts: dict[str, str] = {}
    room = HEAD_FACT_BUDGET
    paid: Any = None
    if state.paid is not None:
        paid, room = _placed(_json(state.paid.model_dump(mode="json")), room, parts)
    refunds = []
    for refund_id, refund in state.refunds.items():
        slot, room = _placed(_json(refund.model_dump(mode="json")), room, parts)
        refunds.append([refund_id, slot])
    doc = {
        "paid": paid,
        "refunds": refunds,
        "completed": state.completed.model_dump(mode="json") if state.completed else None,
        "window_closed": state.window_closed.model_dump(mode="json") if state.window_closed else None,
        "window_closes_at": iso_utc(state.window_closes_at) if state.window_closes_at else None,
        "applied_event_ids": sorted(state.applied_event_ids),
    }
    return doc, parts


def part_names(doc: dict[str, Any]) -> list[str]:
    """The sort keys of the parts a head's document names."""
    refunds = doc.get("refunds") or []
    slots = [doc.get("paid"), *(refunds.values() if isinstance(refunds, dict) else (s for _, s in refunds))]
    return [name for slot in slots if isinstance(slot, dict) and PARTS in slot for name in slot[PARTS]]


def state_from_document(
    corp_id: str, order_id: str, version: int, doc: dict[str, Any], parts: dict[str, str] | None = None
) -> OrderState:
    """The state a head's document describes, its parts' texts given (sort key → text)."""

    def fact(slot: Any) -> Any:
        if isinstance(slot, dict) and PARTS in slot:
            return json.loads("".join((parts or {})[name] for name in slot[PARTS]))
        return slot

    stored_refunds = doc.get("refunds") or []
    pairs = stored_refunds.items() if isinstance(stored_refunds, dict) else stored_refunds
    return OrderState(
        corp_id=corp_id,
        order_id=order_id,
        version=version,
        paid=OrderPaid.model_validate(fact(doc["paid"])) if doc.get("paid") else None,
        refunds={rid: OrderRefunded.model_validate(fact(value)) for rid, value in pairs},
        completed=OrderCompleted.model_validate(doc["completed"]) if doc.get("completed") else None,
        window_closed=(
            AfterSalesWindowClosed.model_validate(doc["window_closed"]) if doc.get("window_closed") else None
        ),
        window_closes_at=parse_instant(doc["window_closes_at"]) if doc.get("window_closes_at") else None,
        applied_event_ids=frozenset(doc.get("applied_event_ids", [])),
    )


def state_from_item(table: Table, item: dict[str, Any]) -> OrderState:
    """The state a head item describes, its parts read in one batched round trip if it has any."""
    doc = json.loads(item["doc"])
    names = part_names(doc)
    texts: dict[str, str] = {}
    if names:
        found = table.get_many([{"pk": item["pk"], "sk": name} for name in names])
        missing = [name for name, part in zip(names, found, strict=True) if part is None]
        if missing:
            raise LookupError(f"order {item['order_id']}: parts {missing} are missing")
        texts = {part["sk"]: part["body"] for part in found if part is not None}
    return state_from_document(item["corp_id"], item["order_id"], int(item["version"]), doc, texts)


def part_items(state: OrderState, parts: dict[str, str]) -> list[dict[str, Any]]:
    partition = keys.order_key(state.corp_id, state.order_id)["pk"]
    return [
        {"pk": partition, "sk": name, "kind": "order_part", "order_id": state.order_id, "body": text}
        for name, text in parts.items()
    ]


def write_parts(table: Table, items: Sequence[dict[str, Any]]) -> None:
    """Put part items (:func:`~incentives.storage.table.put_all`): a part's key is its content's
    hash, so a retry or a racing writer puts the same text again. Nothing names them until a head
    is committed."""
    put_all(table, items)


def head_put(state: OrderState, expected_version: int, doc: dict[str, Any]) -> Put:
    """The write that commits the head if the stored version is still ``expected_version``.

    The order is in the window-closing job's due queue only while it is in its after-sales window.
    """
    values: dict[str, Any] = {
        **keys.order_key(state.corp_id, state.order_id),
        "kind": "order",
        "corp_id": state.corp_id,
        "order_id": state.order_id,
        "status": state.status.value,
        "version": state.version,
        "paid_fen": state.paid_fen,
        "refunded_fen": state.refunded_fen,
        "doc": _json(doc),
    }
    if state.awaits_window_close and state.window_closes_at is not None:
        values.update(
            due_attributes(
                DueQueue.WINDOWS,
                f"{state.corp_id}#{state.order_id}",
                state.window_closes_at,
                state.corp_id,
                state.order_id,
            )
        )
    condition = NotExists() if expected_version == 0 else Equals("version", expected_version)
    return Put(values, (condition,))


INLINE_PARTS_CHARS = 1_000_000
"""New parts up to this size join the head's own transaction (well within its 4 MB, whatever else
it holds); larger ones are written before it."""


class StoredParts:
    """Which parts the heads read (or written) name, by order and version: a save from that version
    writes only the parts it adds (a refund of a large order does not write its payment again)."""

    REMEMBERED = 64

    def __init__(self) -> None:
        self._stored: OrderedDict[str, tuple[int, frozenset[str]]] = OrderedDict()

    def remember(self, partition: str, version: int, names: Sequence[str]) -> None:
        self._stored[partition] = (version, frozenset(names))
        self._stored.move_to_end(partition)
        while len(self._stored) > self.REMEMBERED:
            self._stored.popitem(last=False)

    def known(self, partition: str, version: int) -> frozenset[str]:
        """Parts the head at ``version`` names; if that head is gone, the save's condition fails."""
        stored_version, names = self._stored.get(partition, (-1, frozenset()))
        return names if stored_version == version else frozenset()


def read_order(table: Table, item: dict[str, Any], parts: StoredParts) -> OrderState:
    """The state of a head item (its parts read in one batched round trip), its parts remembered."""
    state = state_from_item(table, item)
    parts.remember(item["pk"], state.version, part_names(json.loads(item["doc"])))
    return state


def order_writes(
    table: Table, state: OrderState, expected_version: int, parts: StoredParts
) -> tuple[list[Put], list[str]]:
    """The writes that store ``state`` if the stored version is still ``expected_version`` — the
    head and the parts it adds, in one transaction when they are small; larger parts are put
    first (nothing names them until the head commits) — and the parts the head names, for
    :meth:`StoredParts.remember` once the writes committed."""
    doc, texts = state_to_document(state)
    partition = keys.order_key(state.corp_id, state.order_id)["pk"]
    known = parts.known(partition, expected_version)
    new = part_items(state, {name: text for name, text in texts.items() if name not in known})
    if sum(len(item["body"]) for item in new) <= INLINE_PARTS_CHARS:
        return [*(Put(item) for item in new), head_put(state, expected_version, doc)], list(texts)
    write_parts(table, new)
    return [head_put(state, expected_version, doc)], list(texts)


def order_put(state: OrderState, expected_version: int) -> Put:
    """The head's write alone (the order must fit its head: see :func:`order_writes` otherwise)."""
    return head_put(state, expected_version, state_to_document(state)[0])


class TableOrderRepository:
    """Orders in the single table (a head and its parts, optimistic versioning), over the Table
    port, so the order write can join another area's transaction and the simulation runs it in memory."""

    def __init__(self, table: Table) -> None:
        self._table = table
        self._parts = StoredParts()

    def get(self, corp_id: str, order_id: str) -> OrderState | None:
        item = self._table.get(keys.order_key(corp_id, order_id))
        return read_order(self._table, item, self._parts) if item else None

    def save(self, state: OrderState, expected_version: int) -> None:
        writes, names = order_writes(self._table, state, expected_version, self._parts)
        try:
            self._table.transact(writes)
        except ConditionFailed as failure:
            raise ConcurrentModification(f"order {state.order_id} changed meanwhile") from failure
        self._parts.remember(writes[-1].item["pk"], state.version, names)

    def orders_past_window(self, now: datetime) -> list[DueOrder]:
        return [self.due_order(entry) for entry in TableDueIndex(self._table).due(DueQueue.WINDOWS, now)]

    @staticmethod
    def due_order(entry: dict[str, Any]) -> DueOrder:
        """The order a due entry describes (from the index projection)."""
        return DueOrder(entry["corp_id"], entry["order_id"], parse_instant(due_at(entry)))
