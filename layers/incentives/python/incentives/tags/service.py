"""The tag library: stored here, pushed to WeCom at once, never pulled back but by a manual import."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from incentives.api.auth import Principal
from incentives.core.clock import iso_utc
from incentives.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from incentives.org.service import stored
from incentives.storage import keys
from incentives.storage.table import Delete, Exists, NotExists, Put, Table, Update, Write
from incentives.tags.rules import LibraryGroup, LibraryTag, plan_import
from incentives.wecom.client import WeComClient


class TagView(BaseModel):
    tag_id: str
    group_id: str
    group_name: str
    name: str
    visible: bool
    wecom_tag_id: str | None


def _id(prefix: str, *parts: str) -> str:
    return prefix + hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def group_key(corp_id: str, group_id: str) -> dict[str, str]:
    return {"pk": f"{keys.tenant(corp_id)}#TAG_GROUP#{group_id}", "sk": "GROUP"}


def tag_key(corp_id: str, tag_id: str) -> dict[str, str]:
    return {"pk": f"{keys.tenant(corp_id)}#TAG#{tag_id}", "sk": "TAG"}


def _group_item(corp_id: str, group_id: str, name: str, wecom_group_id: str | None) -> dict[str, Any]:
    return {
        **group_key(corp_id, group_id),
        "kind": "tag_group",
        "group_id": group_id,
        "name": name,
        "wecom_group_id": wecom_group_id,
        "gsi2pk": f"{keys.tenant(corp_id)}#TAG_GROUPS",
        "gsi2sk": name,
    }


def _tag_item(
    corp_id: str, tag_id: str, group_id: str, name: str, visible: bool, wecom_tag_id: str | None
) -> dict[str, Any]:
    item = {
        **tag_key(corp_id, tag_id),
        "kind": "tag",
        "tag_id": tag_id,
        "group_id": group_id,
        "name": name,
        "visible": visible,
        "gsi2pk": f"{keys.tenant(corp_id)}#TAGS",
        "gsi2sk": f"{group_id}#{name}",
    }
    if wecom_tag_id:
        item["wecom_tag_id"] = wecom_tag_id
    return item


def library(table: Table, corp_id: str) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    groups = {item["group_id"]: item for item in stored(table, corp_id, "TAG_GROUPS").values()}
    tags = {item["tag_id"]: item for item in stored(table, corp_id, "TAGS").values()}
    return groups, tags


def list_tags(table: Table, corp_id: str, visible_only: bool = False) -> list[TagView]:
    groups, tags = library(table, corp_id)
    return sorted(
        (
            TagView(
                tag_id=t["tag_id"],
                group_id=t["group_id"],
                group_name=groups.get(t["group_id"], {}).get("name", ""),
                name=t["name"],
                visible=bool(t["visible"]),
                wecom_tag_id=t.get("wecom_tag_id"),
            )
            for t in tags.values()
            if t["visible"] or not visible_only
        ),
        key=lambda v: (v.group_name, v.name),
    )


def create_group(
    table: Table, client: WeComClient, corp_id: str, name: str, tag_names: list[str], visible: bool
) -> list[TagView]:
    """A group with its tags; visible ones are created in WeCom at once."""
    groups, tags = library(table, corp_id)
    if any(g["name"] == name for g in groups.values()):
        raise Conflict(f"a tag group named {name} exists", field="name")
    names = list(dict.fromkeys(n.strip() for n in tag_names if n.strip()))
    if not names:
        raise InvalidInput("a tag group needs at least one tag", field="tags")
    taken = {t["name"] for t in tags.values()} & set(names)
    if taken:
        raise Conflict(f"tags already exist: {sorted(taken)}", field="tags")
    group_id = _id("tg", corp_id, name)
    wecom_group_id, wecom_ids = None, {}
    if visible:
        created = client.add_corp_tag({"group_name": name, "tag": [{"name": n} for n in names]})
        wecom_group_id = created["group_id"]
        wecom_ids = {t["name"]: t["id"] for t in created.get("tag", [])}
    writes: list[Write] = [Put(_group_item(corp_id, group_id, name, wecom_group_id), (NotExists(),))]
    writes += [
        Put(_tag_item(corp_id, _id("tt", corp_id, group_id, n), group_id, n, visible, wecom_ids.get(n)))
        for n in names
    ]
    table.transact(writes)
    return [view for view in list_tags(table, corp_id) if view.group_id == group_id]


def _tag(table: Table, corp_id: str, tag_id: str) -> dict[str, Any]:
    item = table.get(tag_key(corp_id, tag_id))
    if item is None:
        raise NotFound(f"no tag {tag_id}", field="tag_id")
    return item


def update_tag(
    table: Table, client: WeComClient, corp_id: str, tag_id: str, name: str | None, visible: bool | None
) -> TagView:
    """Rename and / or change visibility; WeCom follows at once (shown ⇒ exists in WeCom).

    Each change makes at most one WeCom call, before anything is stored here: if WeCom refuses it,
    neither side has changed.
    """
    tag = _tag(table, corp_id, tag_id)
    group = table.get(group_key(corp_id, tag["group_id"])) or {}
    changes: dict[str, Any] = {}
    writes: list[Write] = []
    renamed = bool(name) and name != tag["name"]
    if renamed:
        changes.update(name=name, gsi2sk=f"{tag['group_id']}#{name}")
    showing = visible is True and not tag["visible"]
    hiding = visible is False and tag["visible"]
    if showing:
        body: dict[str, Any] = {"tag": [{"name": changes.get("name", tag["name"])}]}
        body.update(
            {"group_id": group["wecom_group_id"]}
            if group.get("wecom_group_id")
            else {"group_name": group.get("name", "")}
        )
        created = client.add_corp_tag(body)
        new_id = next(t["id"] for t in created["tag"] if t["name"] == changes.get("name", tag["name"]))
        changes.update(visible=True, wecom_tag_id=new_id)
        if not group.get("wecom_group_id"):
            writes.append(
                Update(group_key(corp_id, tag["group_id"]), set={"wecom_group_id": created["group_id"]})
            )
    elif hiding:
        if tag.get("wecom_tag_id"):  # hidden = deleted in WeCom; a rename there would be moot
            client.del_corp_tag([tag["wecom_tag_id"]], [])
        changes.update(visible=False)
    elif renamed and tag.get("wecom_tag_id"):
        client.edit_corp_tag(tag["wecom_tag_id"], str(name))
    if changes:
        removal = ("wecom_tag_id",) if hiding else ()
        writes.append(Update(tag_key(corp_id, tag_id), set=changes, remove=removal, conditions=(Exists(),)))
    if writes:
        table.transact(writes)
    updated = _tag(table, corp_id, tag_id)
    return TagView(
        tag_id=tag_id,
        group_id=updated["group_id"],
        group_name=group.get("name", ""),
        name=updated["name"],
        visible=bool(updated["visible"]),
        wecom_tag_id=updated.get("wecom_tag_id"),
    )


def delete_tag(table: Table, client: WeComClient, corp_id: str, tag_id: str) -> None:
    tag = _tag(table, corp_id, tag_id)
    if tag.get("wecom_tag_id"):
        client.del_corp_tag([tag["wecom_tag_id"]], [])
    table.transact([Delete(tag_key(corp_id, tag_id))])


def import_from_wecom(table: Table, client: WeComClient, corp_id: str) -> dict[str, Any]:
    """Seed 002's manual import; imported tags keep their WeCom ids and are visible to guides."""
    groups, tags = library(table, corp_id)
    wecom_groups = client.corp_tags()
    plan = plan_import(
        [LibraryGroup(g["group_id"], g["name"]) for g in groups.values()],
        [LibraryTag(t["tag_id"], t["group_id"], t["name"]) for t in tags.values()],
        wecom_groups,
    )
    by_name = {g["name"]: g["group_id"] for g in groups.values()}
    wecom_by_name = {str(g["group_name"]): g for g in wecom_groups}
    writes: list[Write] = []
    for name in plan.new_groups:
        by_name[name] = _id("tg", corp_id, name)
        writes.append(
            Put(
                _group_item(corp_id, by_name[name], name, str(wecom_by_name[name]["group_id"])),
                (NotExists(),),
            )
        )
    for group_name, tag_name in plan.new_tags:
        candidates = wecom_by_name[group_name]["tag"]
        wecom_tag: dict[str, Any] = next((t for t in candidates if t["name"] == tag_name), {})
        group_id = by_name[group_name]
        writes.append(
            Put(
                _tag_item(
                    corp_id,
                    _id("tt", corp_id, group_id, tag_name),
                    group_id,
                    tag_name,
                    True,
                    wecom_tag.get("id"),
                ),
                (NotExists(),),
            )
        )
    for write in writes:
        table.transact([write])
    return {
        "groups_created": len(plan.new_groups),
        "tags_created": len(plan.new_tags),
        "skipped": list(plan.skipped),
    }


def mark_customer_tags(
    table: Table,
    client: WeComClient,
    corp_id: str,
    guide_id: str,
    customer: dict[str, Any],
    add: list[str],
    remove: list[str],
    now: datetime,
) -> list[str]:
    """A guide adds / removes visible tags on their own customer; WeCom's mark_tag follows."""
    if customer.get("guide_id") != guide_id:
        raise Forbidden("guides tag only their own customers")
    wecom_ids: dict[str, str] = {}
    for tag_id in [*add, *remove]:
        tag = _tag(table, corp_id, tag_id)
        if not tag["visible"]:
            raise Forbidden(f"tag {tag_id} is not visible to guides")
        wecom_ids[tag_id] = tag.get("wecom_tag_id", "")
    client.mark_tag(
        guide_id,
        customer["external_user_id"],
        [wecom_ids[t] for t in add if wecom_ids[t]],
        [wecom_ids[t] for t in remove if wecom_ids[t]],
    )
    current = (set(customer.get("tag_ids", [])) | set(add)) - set(remove)
    from incentives.storage.keys import customer_key

    table.transact(
        [
            Update(
                customer_key(corp_id, customer["customer_id"]),
                set={"tag_ids": sorted(current), "tags_changed_at": iso_utc(now)},
                conditions=(Exists(),),
            )
        ]
    )
    return sorted(current)


class SegmentMember(BaseModel):
    customer_id: str
    guide_id: str
    outlet_id: str
    tag_ids: list[str]


def segment(table: Table, principal: Principal, tag_ids: list[str]) -> list[SegmentMember]:
    """Customers (in the principal's scope) with the chosen tags: OR within a group, AND across groups."""
    from incentives.tags.rules import matches

    _, tags = library(table, principal.corp_id)
    unknown = [tag_id for tag_id in tag_ids if tag_id not in tags]
    if unknown:
        raise InvalidInput(f"unknown tags {unknown}", field="tag_ids")
    selection: dict[str, list[str]] = {}
    for tag_id in tag_ids:
        selection.setdefault(tags[tag_id]["group_id"], []).append(tag_id)
    found = []
    for guide in stored(table, principal.corp_id, "GUIDES").values():
        if not principal.sees_department_path(guide.get("dept_path", [])):
            continue
        for customer in stored(table, principal.corp_id, f"GUIDE_CUSTOMERS#{guide['user_id']}").values():
            if customer.get("guide_id") == guide["user_id"] and matches(
                customer.get("tag_ids", []), selection
            ):
                found.append(
                    SegmentMember(
                        customer_id=customer["customer_id"],
                        guide_id=guide["user_id"],
                        outlet_id=customer.get("outlet_id", ""),
                        tag_ids=customer.get("tag_ids", []),
                    )
                )
    return sorted(found, key=lambda member: member.customer_id)
