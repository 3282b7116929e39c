"""The organization in the single table: departments, guides, the sync status, data nodes, guide
permissions, Contact-Me codes and the guides' customers (:class:`incentives.org.ports.OrgRepository`).

Departments and guides are listed by tenant on ``gsi2`` (``T#<corp>#DEPTS`` / ``#GUIDES``);
a guide's customers on ``T#<corp>#GUIDE_CUSTOMERS#<guide>``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from incentives.org.ports import OrgChanges, Record, StoredDataNodes
from incentives.storage import keys
from incentives.storage.table import (
    ConditionFailed,
    Delete,
    Equals,
    Exists,
    Item,
    NotExists,
    Put,
    Table,
    Update,
    Write,
    query_all,
    query_iter,
)

GUIDE_PAGE = 1_000
"""Guides a page when a sync reads them in order (a few hundred KB: DynamoDB answers up to 1 MB)."""
STORAGE_ATTRIBUTES = frozenset(
    {"pk", "sk", "kind", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk"}
)


def record(item: Item | None) -> Record | None:
    """The item's own attributes: its keys, index attributes and kind are storage's."""
    return None if item is None else {k: v for k, v in item.items() if k not in STORAGE_ATTRIBUTES}


def collection(table: Table, corp_id: str, name: str) -> list[Record]:
    """Every record of one of the tenant's ``gsi2`` collections."""
    items = query_all(table, keys.collection(corp_id, name), index=keys.COLLECTION_INDEX)
    return [{k: v for k, v in item.items() if k not in STORAGE_ATTRIBUTES} for item in items]


def department_item(corp_id: str, department: Record) -> Item:
    return {
        **department,
        **keys.dept_key(corp_id, department["dept_id"]),
        "kind": "department",
        "gsi2pk": keys.collection(corp_id, "DEPTS"),
        "gsi2sk": str(department["dept_id"]).zfill(12),
    }


def guide_item(corp_id: str, guide: Record) -> Item:
    return {
        **guide,
        **keys.guide_key(corp_id, guide["user_id"]),
        "kind": "guide",
        "gsi2pk": keys.collection(corp_id, "GUIDES"),
        "gsi2sk": guide["user_id"],
    }


def guides(table: Table, corp_id: str) -> dict[str, Record]:
    return {guide["user_id"]: guide for guide in collection(table, corp_id, "GUIDES")}


def guide(table: Table, corp_id: str, user_id: str) -> Record | None:
    return record(table.get(keys.guide_key(corp_id, user_id)))


def guide_customers(table: Table, corp_id: str, guide_id: str) -> list[Record]:
    items = query_all(table, keys.guide_customers(corp_id, guide_id), index=keys.COLLECTION_INDEX)
    return [record(item) or {} for item in items]


def customer(table: Table, corp_id: str, customer_id: str) -> Record | None:
    return record(table.get(keys.customer_key(corp_id, customer_id)))


def update_customer(table: Table, corp_id: str, customer_id: str, changes: Record) -> None:
    table.transact([Update(keys.customer_key(corp_id, customer_id), set=changes, conditions=(Exists(),))])


class TableOrgRepository:
    """:class:`incentives.org.ports.OrgRepository` over the Table port."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def departments(self, corp_id: str) -> dict[str, Record]:
        return {item["dept_id"]: item for item in collection(self._table, corp_id, "DEPTS")}

    def department(self, corp_id: str, dept_id: str) -> Record | None:
        return record(self._table.get(keys.dept_key(corp_id, dept_id)))

    def guides(self, corp_id: str) -> dict[str, Record]:
        return guides(self._table, corp_id)

    def guide(self, corp_id: str, user_id: str) -> Record | None:
        return guide(self._table, corp_id, user_id)

    def guides_in_order(self, corp_id: str) -> Iterator[Record]:
        items = query_iter(
            self._table, keys.collection(corp_id, "GUIDES"), index=keys.COLLECTION_INDEX, page_size=GUIDE_PAGE
        )
        return (record(item) or {} for item in items)

    def apply(self, corp_id: str, changes: OrgChanges) -> None:
        writes: list[Write] = [
            *(Put(department_item(corp_id, d)) for d in changes.departments),
            *(Put(guide_item(corp_id, g)) for g in changes.guides),
            *(Delete(keys.dept_key(corp_id, d)) for d in changes.removed_departments),
            *(Delete(keys.guide_key(corp_id, g)) for g in changes.removed_guides),
        ]
        for write in writes:
            self._table.transact([write])

    def sync_status(self, corp_id: str) -> Record:
        return record(self._table.get(keys.org_sync_status_key(corp_id))) or {}

    def save_sync_status(self, corp_id: str, status: Record) -> None:
        self._table.transact(
            [Put({**status, **keys.org_sync_status_key(corp_id), "kind": "org_sync_status"})]
        )

    def data_nodes(self, corp_id: str) -> StoredDataNodes | None:
        item = self._table.get(keys.data_nodes_key(corp_id))
        return StoredDataNodes(item["value"], str(item.get("updated_at", ""))) if item else None

    def _data_nodes_put(self, corp_id: str, value: Record, updated_at: str, *conditions: Any) -> Put:
        item = {**keys.data_nodes_key(corp_id), "kind": "settings", "value": value, "updated_at": updated_at}
        return Put(item, tuple(conditions))

    def save_data_nodes(
        self, corp_id: str, value: Record, updated_at: str, read: StoredDataNodes | None
    ) -> bool:
        condition = Equals("updated_at", read.updated_at) if read else NotExists()
        try:
            self._table.transact([self._data_nodes_put(corp_id, value, updated_at, condition)])
        except ConditionFailed:
            return False
        return True

    def overwrite_data_nodes(self, corp_id: str, value: Record, updated_at: str) -> None:
        self._table.transact([self._data_nodes_put(corp_id, value, updated_at)])

    def permissions(self, corp_id: str) -> Record | None:
        item = self._table.get(keys.guide_permissions_key(corp_id))
        return dict(item["value"]) if item else None

    def save_permissions(self, corp_id: str, value: Record) -> None:
        self._table.transact(
            [Put({**keys.guide_permissions_key(corp_id), "kind": "settings", "value": value})]
        )

    def outlet_customer_counts(self, corp_id: str, outlet_ids: Sequence[str]) -> list[int]:
        counts = self._table.get_many([keys.outlet_customers_key(corp_id, outlet) for outlet in outlet_ids])
        return [int((counted or {}).get("customers", 0)) for counted in counts]

    def save_contact_way(self, corp_id: str, contact_way: Record) -> None:
        key = keys.contact_way_key(corp_id, contact_way["state"])
        self._table.transact([Put({**key, "kind": "contact_way", **contact_way})])

    def set_guide_welcome(self, corp_id: str, user_id: str, text: str) -> None:
        key = keys.guide_key(corp_id, user_id)
        self._table.transact([Update(key, set={"welcome_message": text}, conditions=(Exists(),))])

    def customer(self, corp_id: str, customer_id: str) -> Record | None:
        return customer(self._table, corp_id, customer_id)

    def guide_customers(self, corp_id: str, guide_id: str) -> list[Record]:
        return guide_customers(self._table, corp_id, guide_id)

    def update_customer(self, corp_id: str, customer_id: str, changes: Record) -> None:
        update_customer(self._table, corp_id, customer_id, changes)
