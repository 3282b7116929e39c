"""The tag library in the single table (:class:`incentives.tags.ports.TagRepository`): groups and
tags, listed by tenant on ``gsi2`` (``T#<corp>#TAG_GROUPS`` by name, ``#TAGS`` by group and name),
and the tags put on customers."""

from __future__ import annotations

from datetime import datetime

from incentives.core.clock import iso_utc
from incentives.storage import keys, org
from incentives.storage.table import Delete, Exists, Item, NotExists, Put, Table, Update, Write
from incentives.tags.ports import GroupChange, Record, TagChange, TagChanges


def group_item(corp_id: str, group: Record) -> Item:
    return {
        **keys.tag_group_key(corp_id, group["group_id"]),
        "kind": "tag_group",
        "group_id": group["group_id"],
        "name": group["name"],
        "wecom_group_id": group.get("wecom_group_id"),
        "visible": group.get("visible", True),
        "gsi2pk": keys.collection(corp_id, "TAG_GROUPS"),
        "gsi2sk": group["name"],
    }


def tag_item(corp_id: str, tag: Record) -> Item:
    item = {
        **keys.tag_key(corp_id, tag["tag_id"]),
        "kind": "tag",
        "tag_id": tag["tag_id"],
        "group_id": tag["group_id"],
        "name": tag["name"],
        "visible": tag["visible"],
        "gsi2pk": keys.collection(corp_id, "TAGS"),
        "gsi2sk": f"{tag['group_id']}#{tag['name']}",
    }
    if tag.get("wecom_tag_id"):
        item["wecom_tag_id"] = tag["wecom_tag_id"]
    return item


def _group_update(corp_id: str, change: GroupChange) -> Update:
    values = dict(change.set)
    if "name" in values:
        values["gsi2sk"] = values["name"]  # the library lists groups by name
    return Update(
        keys.tag_group_key(corp_id, change.group_id),
        set=values,
        remove=change.remove,
        conditions=(Exists(),) if change.must_exist else (),
    )


def _tag_update(corp_id: str, change: TagChange) -> Update:
    values = dict(change.set)
    if "name" in values:
        values["gsi2sk"] = f"{change.group_id}#{values['name']}"
    return Update(
        keys.tag_key(corp_id, change.tag_id),
        set=values,
        remove=change.remove,
        conditions=(Exists(),) if change.must_exist else (),
    )


class TableTagRepository:
    """:class:`incentives.tags.ports.TagRepository` over the Table port."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def library(self, corp_id: str) -> tuple[dict[str, Record], dict[str, Record]]:
        groups = {item["group_id"]: item for item in org.collection(self._table, corp_id, "TAG_GROUPS")}
        tags = {item["tag_id"]: item for item in org.collection(self._table, corp_id, "TAGS")}
        return groups, tags

    def group(self, corp_id: str, group_id: str) -> Record | None:
        return org.record(self._table.get(keys.tag_group_key(corp_id, group_id)))

    def tag(self, corp_id: str, tag_id: str) -> Record | None:
        return org.record(self._table.get(keys.tag_key(corp_id, tag_id)))

    def commit(self, corp_id: str, changes: TagChanges, *, per_transaction: int = 100) -> None:
        writes: list[Write] = [
            *(_group_update(corp_id, change) for change in changes.groups),
            *(Put(group_item(corp_id, group), (NotExists(),)) for group in changes.new_groups),
            *(Put(tag_item(corp_id, tag), (NotExists(),)) for tag in changes.new_tags),
            *(_tag_update(corp_id, change) for change in changes.tags),
            *(Delete(keys.tag_key(corp_id, tag_id)) for tag_id in changes.deleted_tags),
            *(Delete(keys.tag_group_key(corp_id, group_id)) for group_id in changes.deleted_groups),
        ]
        for start in range(0, len(writes), per_transaction):
            self._table.transact(writes[start : start + per_transaction])

    def guides(self, corp_id: str) -> list[Record]:
        return list(org.guides(self._table, corp_id).values())

    def guide_customers(self, corp_id: str, guide_id: str) -> list[Record]:
        return org.guide_customers(self._table, corp_id, guide_id)

    def set_customer_tags(self, corp_id: str, customer_id: str, tag_ids: list[str], at: datetime) -> None:
        org.update_customer(
            self._table, corp_id, customer_id, {"tag_ids": tag_ids, "tags_changed_at": iso_utc(at)}
        )
