"""Storage of the order aggregate: one item per order, optimistic versioning."""

from __future__ import annotations

import json
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
from incentives.storage.table import ConditionFailed, Equals, NotExists, Put, Table
from incentives.webhook.models import OrderCompleted, OrderPaid, OrderRefunded


def state_to_document(state: OrderState) -> dict[str, Any]:
    return {
        "paid": state.paid.model_dump(mode="json") if state.paid else None,
        "refunds": {rid: refund.model_dump(mode="json") for rid, refund in sorted(state.refunds.items())},
        "completed": state.completed.model_dump(mode="json") if state.completed else None,
        "window_closed": state.window_closed.model_dump(mode="json") if state.window_closed else None,
        "window_closes_at": iso_utc(state.window_closes_at) if state.window_closes_at else None,
        "applied_event_ids": sorted(state.applied_event_ids),
    }


def state_from_document(corp_id: str, order_id: str, version: int, doc: dict[str, Any]) -> OrderState:
    return OrderState(
        corp_id=corp_id,
        order_id=order_id,
        version=version,
        paid=OrderPaid.model_validate(doc["paid"]) if doc.get("paid") else None,
        refunds={rid: OrderRefunded.model_validate(value) for rid, value in doc.get("refunds", {}).items()},
        completed=OrderCompleted.model_validate(doc["completed"]) if doc.get("completed") else None,
        window_closed=(
            AfterSalesWindowClosed.model_validate(doc["window_closed"]) if doc.get("window_closed") else None
        ),
        window_closes_at=parse_instant(doc["window_closes_at"]) if doc.get("window_closes_at") else None,
        applied_event_ids=frozenset(doc.get("applied_event_ids", [])),
    )


def state_from_item(item: dict[str, Any]) -> OrderState:
    return state_from_document(
        item["corp_id"], item["order_id"], int(item["version"]), json.loads(item["doc"])
    )


def order_put(state: OrderState, expected_version: int) -> Put:
    """The write that stores ``state`` if the stored version is still ``expected_version``.

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
        "doc": json.dumps(state_to_document(state), separators=(",", ":")),
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


class TableOrderRepository:
    """Orders in the single table (one item per order, optimistic versioning), over the Table port,
    so the order write can join another area's transaction and the simulation runs it in memory."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, corp_id: str, order_id: str) -> OrderState | None:
        item = self._table.get(keys.order_key(corp_id, order_id))
        return state_from_item(item) if item else None

    def save(self, state: OrderState, expected_version: int) -> None:
        try:
            self._table.transact([order_put(state, expected_version)])
        except ConditionFailed as failure:
            raise ConcurrentModification(f"order {state.order_id} changed meanwhile") from failure

    def orders_past_window(self, now: datetime) -> list[DueOrder]:
        return [self.due_order(entry) for entry in TableDueIndex(self._table).due(DueQueue.WINDOWS, now)]

    @staticmethod
    def due_order(entry: dict[str, Any]) -> DueOrder:
        """The order a due entry describes (from the index projection)."""
        return DueOrder(entry["corp_id"], entry["order_id"], parse_instant(due_at(entry)))
