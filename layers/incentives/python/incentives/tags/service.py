"""The tag library: stored here, pushed to WeCom at once, never pulled back but by a manual import."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from incentives.core.access import Principal
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
    visible: bool = Field(description="The tag's own visibility to guides")
    group_visible: bool = Field(description="Its group's visibility; guides see a tag only when both are")
    wecom_tag_id: str | None


class TagGroupView(BaseModel):
    group_id: str
    name: str
    visible: bool = Field(description="Visible to guides (then it exists in WeCom, with its visible tags)")
    wecom_group_id: str | None
    tags: list[TagView]


def _id(prefix: str, *parts: str) -> str:
    return prefix + hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _new_id(taken: set[str], prefix: str, *parts: str) -> str:
    """An id from the names, or, when a renamed group or tag already holds that one, the next free
    variant; it is added to ``taken``."""
    candidate, n = _id(prefix, *parts), 1
    while candidate in taken:
        n += 1
        candidate = _id(prefix, *parts, str(n))
    taken.add(candidate)
    return candidate


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
        "visible": True,
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


def group_visible(group: dict[str, Any] | None) -> bool:
    """Groups stored before group visibility existed are visible."""
    return bool((group or {}).get("visible", True))


def shown_to_guides(tag: dict[str, Any], group: dict[str, Any] | None) -> bool:
    """Guides see a tag, and its relations to customers, only while the tag and its group are visible."""
    return bool(tag["visible"]) and group_visible(group)


def _view(tag: dict[str, Any], group: dict[str, Any] | None) -> TagView:
    return TagView(
        tag_id=tag["tag_id"],
        group_id=tag["group_id"],
        group_name=(group or {}).get("name", ""),
        name=tag["name"],
        visible=bool(tag["visible"]),
        group_visible=group_visible(group),
        wecom_tag_id=tag.get("wecom_tag_id"),
    )


def list_tags(table: Table, corp_id: str, visible_only: bool = False) -> list[TagView]:
    groups, tags = library(table, corp_id)
    return sorted(
        (
            _view(t, groups.get(t["group_id"]))
            for t in tags.values()
            if not visible_only or shown_to_guides(t, groups.get(t["group_id"]))
        ),
        key=lambda v: (v.group_name, v.name),
    )


def guide_tag_ids(table: Table, corp_id: str) -> set[str]:
    """The tags guides see now; a customer's relations to other tags are kept but not shown."""
    groups, tags = library(table, corp_id)
    return {t["tag_id"] for t in tags.values() if shown_to_guides(t, groups.get(t["group_id"]))}


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
    group_id = _new_id(set(groups), "tg", corp_id, name)
    tag_ids = set(tags)
    wecom_group_id, wecom_ids = None, {}
    if visible:
        created = client.add_corp_tag({"group_name": name, "tag": [{"name": n} for n in names]})
        wecom_group_id = created["group_id"]
        wecom_ids = {t["name"]: t["id"] for t in created.get("tag", [])}
    writes: list[Write] = [Put(_group_item(corp_id, group_id, name, wecom_group_id), (NotExists(),))]
    writes += [
        Put(
            _tag_item(
                corp_id, _new_id(tag_ids, "tt", corp_id, group_id, n), group_id, n, visible, wecom_ids.get(n)
            )
        )
        for n in names
    ]
    table.transact(writes)
    return [view for view in list_tags(table, corp_id) if view.group_id == group_id]


def _tag(table: Table, corp_id: str, tag_id: str) -> dict[str, Any]:
    item = table.get(tag_key(corp_id, tag_id))
    if item is None:
        raise NotFound(f"no tag {tag_id}", field="tag_id")
    return item


def _group(table: Table, corp_id: str, group_id: str) -> dict[str, Any]:
    item = table.get(group_key(corp_id, group_id))
    if item is None:
        raise NotFound(f"no tag group {group_id}", field="group_id")
    return item


def _members(tags: dict[str, dict[str, Any]], group_id: str) -> list[dict[str, Any]]:
    return sorted((t for t in tags.values() if t["group_id"] == group_id), key=lambda t: t["name"])


def _wecom_group_id(group: dict[str, Any], members: list[dict[str, Any]]) -> str | None:
    """The group's WeCom id while the group exists there: WeCom keeps no empty group, so a group
    none of whose tags is in WeCom (all hidden, say) was deleted with its last tag."""
    if group.get("wecom_group_id") and any(t.get("wecom_tag_id") for t in members):
        return str(group["wecom_group_id"])
    return None


def _push(
    client: WeComClient,
    group: dict[str, Any],
    members: list[dict[str, Any]],
    names: list[str],
    group_name: str,
) -> tuple[str, dict[str, str]]:
    """Create ``names`` in the group in WeCom: in the group while it exists there, else in a new group
    by that name (recreating what WeCom dropped). The group's WeCom id and each new tag's."""
    alive = _wecom_group_id(group, members)
    body: dict[str, Any] = {"tag": [{"name": n} for n in names]}
    body.update({"group_id": alive} if alive else {"group_name": group_name})
    created = client.add_corp_tag(body)
    return str(created["group_id"]), {t["name"]: str(t["id"]) for t in created.get("tag", [])}


def _check_tag_names(tags: dict[str, dict[str, Any]], names: list[str], field: str) -> None:
    taken = {t["name"] for t in tags.values()} & set(names)
    if taken:
        raise Conflict(f"tags already exist: {sorted(taken)}", field=field)


def _in_chunks(table: Table, writes: list[Write]) -> None:
    """A transaction holds at most 100 writes; a large group's changes take several."""
    for start in range(0, len(writes), 100):
        table.transact(writes[start : start + 100])


def update_tag(
    table: Table, client: WeComClient, corp_id: str, tag_id: str, name: str | None, visible: bool | None
) -> TagView:
    """Rename and / or change visibility; WeCom follows at once (shown to guides ⇔ exists in WeCom).

    Each change makes at most one WeCom call, before anything is stored here: if WeCom refuses it,
    neither side has changed. Hiding a group's last tag in WeCom deletes the group there too (WeCom
    keeps no empty group); showing a tag again then creates the group anew and keeps its new id.
    """
    tag = _tag(table, corp_id, tag_id)
    groups, tags = library(table, corp_id)
    group = groups.get(tag["group_id"]) or {}
    others = [t for t in _members(tags, tag["group_id"]) if t["tag_id"] != tag_id]
    changes: dict[str, Any] = {}
    writes: list[Write] = []
    renamed = bool(name) and name != tag["name"]
    if renamed:
        _check_tag_names({k: v for k, v in tags.items() if k != tag_id}, [str(name)], "name")
        changes.update(name=name, gsi2sk=f"{tag['group_id']}#{name}")
    showing = visible is True and not tag["visible"]
    hiding = visible is False and tag["visible"]
    in_wecom = bool(tag.get("wecom_tag_id"))
    if showing and group_visible(group):
        new_name = changes.get("name", tag["name"])
        wecom_group_id, ids = _push(client, group, others, [new_name], group.get("name", ""))
        changes.update(wecom_tag_id=ids[new_name])
        writes.append(Update(group_key(corp_id, tag["group_id"]), set={"wecom_group_id": wecom_group_id}))
    elif hiding and in_wecom:  # hidden = deleted in WeCom; a rename there would be moot
        client.del_corp_tag([tag["wecom_tag_id"]], [])
        if not any(t.get("wecom_tag_id") for t in others):
            writes.append(Update(group_key(corp_id, tag["group_id"]), remove=("wecom_group_id",)))
    elif renamed and in_wecom:
        client.edit_corp_tag(tag["wecom_tag_id"], str(name))
    if showing or hiding:
        changes.update(visible=bool(visible))
    if changes:
        removal = ("wecom_tag_id",) if hiding else ()
        writes.append(Update(tag_key(corp_id, tag_id), set=changes, remove=removal, conditions=(Exists(),)))
    if writes:
        table.transact(writes)
    return _view(_tag(table, corp_id, tag_id), table.get(group_key(corp_id, tag["group_id"])))


def delete_tag(table: Table, client: WeComClient, corp_id: str, tag_id: str) -> None:
    tag = _tag(table, corp_id, tag_id)
    writes: list[Write] = [Delete(tag_key(corp_id, tag_id))]
    if tag.get("wecom_tag_id"):
        client.del_corp_tag([tag["wecom_tag_id"]], [])
        _, tags = library(table, corp_id)
        if not any(t.get("wecom_tag_id") for t in _members(tags, tag["group_id"]) if t["tag_id"] != tag_id):
            writes.append(Update(group_key(corp_id, tag["group_id"]), remove=("wecom_group_id",)))
    table.transact(writes)


def group_view(table: Table, corp_id: str, group_id: str) -> TagGroupView:
    group = _group(table, corp_id, group_id)
    _, tags = library(table, corp_id)
    return TagGroupView(
        group_id=group_id,
        name=group["name"],
        visible=group_visible(group),
        wecom_group_id=group.get("wecom_group_id"),
        tags=[_view(t, group) for t in _members(tags, group_id)],
    )


def add_tags(
    table: Table,
    client: WeComClient,
    corp_id: str,
    group_id: str,
    tag_names: list[str],
    visible: bool,
) -> TagGroupView:
    """New tags in an existing group; those guides will see are created in WeCom's group at once."""
    group = _group(table, corp_id, group_id)
    _, tags = library(table, corp_id)
    tag_ids = set(tags)
    names = list(dict.fromkeys(n.strip() for n in tag_names if n.strip()))
    if not names:
        raise InvalidInput("name at least one tag", field="tags")
    _check_tag_names(tags, names, "tags")
    writes: list[Write] = []
    ids: dict[str, str] = {}
    if visible and group_visible(group):
        wecom_group_id, ids = _push(client, group, _members(tags, group_id), names, group["name"])
        writes.append(Update(group_key(corp_id, group_id), set={"wecom_group_id": wecom_group_id}))
    writes += [
        Put(
            _tag_item(
                corp_id, _new_id(tag_ids, "tt", corp_id, group_id, n), group_id, n, visible, ids.get(n)
            ),
            (NotExists(),),
        )
        for n in names
    ]
    _in_chunks(table, writes)
    return group_view(table, corp_id, group_id)


def update_group(
    table: Table, client: WeComClient, corp_id: str, group_id: str, name: str | None, visible: bool | None
) -> TagGroupView:
    """Rename a group and / or change its visibility to guides; WeCom follows at once.

    Hidden, the group is deleted in WeCom with its tags (their relations stay here, not shown to
    guides); shown again, it is created anew in WeCom with its visible tags and keeps the new ids.
    """
    group = _group(table, corp_id, group_id)
    groups, tags = library(table, corp_id)
    members = _members(tags, group_id)
    new_name = name.strip() if name and name.strip() != group["name"] else None
    if name is not None and not name.strip():
        raise InvalidInput("a tag group needs a name", field="name")
    if new_name and any(g["name"] == new_name for g in groups.values() if g["group_id"] != group_id):
        raise Conflict(f"a tag group named {new_name} exists", field="name")
    current = _wecom_group_id(group, members)
    group_changes: dict[str, Any] = {"name": new_name, "gsi2sk": new_name} if new_name else {}
    writes: list[Write] = []
    if visible is False and group_visible(group):
        if current:
            client.del_corp_tag([], [current])  # WeCom deletes the group's tags with it
        group_changes["visible"] = False
        writes += [
            Update(tag_key(corp_id, t["tag_id"]), remove=("wecom_tag_id",))
            for t in members
            if t.get("wecom_tag_id")
        ]
        remove: tuple[str, ...] = ("wecom_group_id",)
    elif visible is True and not group_visible(group):
        shown = [t for t in members if t["visible"]]
        if shown:
            wecom_group_id, ids = _push(client, {}, [], [t["name"] for t in shown], new_name or group["name"])
            group_changes["wecom_group_id"] = wecom_group_id
            writes += [
                Update(tag_key(corp_id, t["tag_id"]), set={"wecom_tag_id": ids[t["name"]]}) for t in shown
            ]
        group_changes["visible"] = True
        remove = ()
    else:
        if new_name and current:
            client.edit_corp_tag(current, new_name)
        remove = ()
    if group_changes or remove:
        writes.insert(
            0, Update(group_key(corp_id, group_id), set=group_changes, remove=remove, conditions=(Exists(),))
        )
    _in_chunks(table, writes)
    return group_view(table, corp_id, group_id)


def delete_group(table: Table, client: WeComClient, corp_id: str, group_id: str) -> None:
    """Delete a group and its tags, here and (when it exists there) in WeCom."""
    group = _group(table, corp_id, group_id)
    _, tags = library(table, corp_id)
    members = _members(tags, group_id)
    current = _wecom_group_id(group, members)
    if current:
        client.del_corp_tag([], [current])
    _in_chunks(
        table,
        [*(Delete(tag_key(corp_id, t["tag_id"])) for t in members), Delete(group_key(corp_id, group_id))],
    )


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
    group_ids, tag_ids = set(groups), set(tags)
    wecom_by_name = {str(g["group_name"]): g for g in wecom_groups}
    writes: list[Write] = []
    for name in plan.new_groups:
        by_name[name] = _new_id(group_ids, "tg", corp_id, name)
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
                    _new_id(tag_ids, "tt", corp_id, group_id, tag_name),
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
        if not shown_to_guides(tag, table.get(group_key(corp_id, tag["group_id"]))):
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
