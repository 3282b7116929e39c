"""The WeChat Store connector's records in the single table (docs/data-model.md, "WeChat Store").

- ``T#<corp>#WXSTORE#ORDER#<order_id>`` / ``STATE``: what the connector read of an order and
  which events it emitted; while provisional, on the sharded re-read queue
  (gsi1 ``WXSTORE_REREAD#<n>``, sort key ``<due ISO>#<corp>#<order>``);
- ``T#<corp>#WXSTORE#PRODUCT#<product_id>`` / ``CATEGORIES``: the product's category path;
- ``T#<corp>#WXSTORE#FLOWS#<day>`` / ``FLOW#<flow_id>`` and ``QUARANTINE#<flow_id>``: the day's
  funds flows, as read and as quarantined.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from incentives.core.clock import iso_utc, parse_instant
from incentives.core.errors import ConcurrentModification
from incentives.storage.keys import tenant
from incentives.storage.table import ConditionFailed, Equals, NotExists, Put, Table, due_items, query_iter
from incentives.wechat_store.flows import Flow, QuarantinedFlow
from incentives.wechat_store.ports import OrderRecord

REREAD_QUEUE = "WXSTORE_REREAD"
REREAD_SHARDS = 4
WRITES_PER_TRANSACTION = 25


def order_key(corp_id: str, order_id: str) -> dict[str, str]:
    return {"pk": f"{tenant(corp_id)}#WXSTORE#ORDER#{order_id}", "sk": "STATE"}


def product_key(corp_id: str, product_id: str) -> dict[str, str]:
    return {"pk": f"{tenant(corp_id)}#WXSTORE#PRODUCT#{product_id}", "sk": "CATEGORIES"}


def flows_partition(corp_id: str, day: date) -> str:
    return f"{tenant(corp_id)}#WXSTORE#FLOWS#{day.isoformat()}"


def _flow_item(corp_id: str, day: date, flow: Flow) -> dict[str, Any]:
    return {
        "pk": flows_partition(corp_id, day),
        "sk": f"FLOW#{flow.flow_id}",
        "kind": "wechat_store_flow",
        "flow_id": flow.flow_id,
        "funds_type": flow.funds_type,
        "flow_type": flow.flow_type,
        "amount_fen": flow.amount_fen,
        "order_id": flow.order_id or "",
        "booked_at": iso_utc(flow.booked_at) if flow.booked_at else "",
        "notes": list(flow.notes),
    }


def _quarantine_item(corp_id: str, day: date, item: QuarantinedFlow) -> dict[str, Any]:
    return {
        "pk": flows_partition(corp_id, day),
        "sk": f"QUARANTINE#{item.flow_id}",
        "kind": "wechat_store_quarantined_flow",
        "flow_id": item.flow_id,
        "reason": item.reason,
        "order_id": item.order_id or "",
        "raw": item.raw,
    }


class TableStoreRecords:
    def __init__(self, table: Table) -> None:
        self._table = table

    def order(self, corp_id: str, order_id: str) -> OrderRecord | None:
        item = self._table.get(order_key(corp_id, order_id))
        if item is None:
            return None
        doc = json.loads(item["doc"])
        return OrderRecord(
            corp_id=corp_id,
            order_id=order_id,
            status=int(doc.get("status", 0)),
            signals=list(doc.get("signals", [])),
            digest=str(doc.get("digest", "")),
            provisional=bool(doc.get("provisional")),
            reread_due_at=parse_instant(doc["reread_due_at"]) if doc.get("reread_due_at") else None,
            emitted=list(doc.get("emitted", [])),
            settled_fee_fen=doc.get("settled_fee_fen"),
            predicted_fee_fen=doc.get("predicted_fee_fen"),
            settled_at=parse_instant(doc["settled_at"]) if doc.get("settled_at") else None,
            version=int(item["version"]),
        )

    def save_order(self, record: OrderRecord) -> None:
        doc = {
            "status": record.status,
            "signals": record.signals,
            "digest": record.digest,
            "provisional": record.provisional,
            "reread_due_at": iso_utc(record.reread_due_at) if record.reread_due_at else None,
            "emitted": record.emitted,
            "settled_fee_fen": record.settled_fee_fen,
            "predicted_fee_fen": record.predicted_fee_fen,
            "settled_at": iso_utc(record.settled_at) if record.settled_at else None,
        }
        item: dict[str, Any] = {
            **order_key(record.corp_id, record.order_id),
            "kind": "wechat_store_order",
            "corp_id": record.corp_id,
            "order_id": record.order_id,
            "version": record.version + 1,
            "doc": json.dumps(doc, ensure_ascii=False, separators=(",", ":")),
        }
        if record.reread_due_at is not None:
            shard = zlib.crc32(f"{record.corp_id}#{record.order_id}".encode()) % REREAD_SHARDS
            item["gsi1pk"] = f"{REREAD_QUEUE}#{shard}"
            item["gsi1sk"] = f"{iso_utc(record.reread_due_at)}#{record.corp_id}#{record.order_id}"
        condition = NotExists() if record.version == 0 else Equals("version", record.version)
        try:
            self._table.transact([Put(item, (condition,))])
        except ConditionFailed:
            raise ConcurrentModification(f"the store order {record.order_id} changed meanwhile") from None
        record.version += 1

    def due_rereads(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        due = due_items(self._table, REREAD_QUEUE, REREAD_SHARDS, f"{iso_utc(now)}~", limit)
        return [(str(item["corp_id"]), str(item["order_id"])) for item in due]

    def categories(self, corp_id: str, product_id: str) -> list[str] | None:
        item = self._table.get(product_key(corp_id, product_id))
        return list(item["path"]) if item is not None else None

    def save_categories(self, corp_id: str, product_id: str, path: list[str]) -> None:
        self._table.transact(
            [Put({**product_key(corp_id, product_id), "kind": "wechat_store_product", "path": path})]
        )

    def save_flows(
        self, corp_id: str, day: date, flows: Sequence[Flow], quarantined: Sequence[QuarantinedFlow]
    ) -> None:
        items = [_flow_item(corp_id, day, flow) for flow in flows]
        items += [_quarantine_item(corp_id, day, item) for item in quarantined]
        for start in range(0, len(items), WRITES_PER_TRANSACTION):
            self._table.transact([Put(item) for item in items[start : start + WRITES_PER_TRANSACTION]])

    def flows(self, corp_id: str, day: date) -> tuple[list[Flow], list[QuarantinedFlow]]:
        flows: list[Flow] = []
        quarantined: list[QuarantinedFlow] = []
        for item in query_iter(self._table, flows_partition(corp_id, day), page_size=200):
            if item["sk"].startswith("FLOW#"):
                flows.append(
                    Flow(
                        flow_id=item["flow_id"],
                        funds_type=int(item["funds_type"]),
                        flow_type=int(item["flow_type"]),
                        amount_fen=int(item["amount_fen"]),
                        order_id=item.get("order_id") or None,
                        booked_at=parse_instant(item["booked_at"]) if item.get("booked_at") else None,
                        notes=tuple(item.get("notes") or ()),
                    )
                )
            elif item["sk"].startswith("QUARANTINE#"):
                quarantined.append(
                    QuarantinedFlow(
                        item["flow_id"], item["reason"], item.get("order_id") or None, item.get("raw", "")
                    )
                )
        return flows, quarantined
