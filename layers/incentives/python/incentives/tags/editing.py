"""Changing the tag library: stored here and pushed to WeCom at once (shown to guides ⇔ exists in
WeCom). Each change calls WeCom before anything is stored here, so a refusal changes neither side."""

from __future__ import annotations

from typing import Any

from incentives.core.errors import Conflict, InvalidInput
from incentives.tags.library import (
    TagGroupView,
    TagView,
    check_tag_names,
    group_of,
    group_view,
    group_visible,
    list_tags,
    members,
    new_id,
    new_tag,
    tag_of,
    view,
)
from incentives.tags.ports import GroupChange, Record, TagChange, TagChanges, TagRepository
from incentives.wecom.client import WeComClient


def create_group(
    repo: TagRepository, client: WeComClient, corp_id: str, name: str, tag_names: list[str], visible: bool
) -> list[TagView]:
    """A group with its tags; visible ones are created in WeCom at once."""
    groups, tags = repo.library(corp_id)
    if any(g["name"] == name for g in groups.values()):
        raise Conflict(f"a tag group named {name} exists", field="name")
    names = list(dict.fromkeys(n.strip() for n in tag_names if n.strip()))
    if not names:
        raise InvalidInput("a tag group needs at least one tag", field="tags")
    check_tag_names(tags, names, "tags")
    group_id = new_id(set(groups), "tg", corp_id, name)
    tag_ids = set(tags)
    wecom_group_id, wecom_ids = None, {}
    if visible:
        created = client.add_corp_tag({"group_name": name, "tag": [{"name": n} for n in names]})
        wecom_group_id = created["group_id"]
        wecom_ids = {t["name"]: t["id"] for t in created.get("tag", [])}
    new_tags = [
        new_tag(new_id(tag_ids, "tt", corp_id, group_id, n), group_id, n, visible, wecom_ids.get(n))
        for n in names
    ]
    group = {"group_id": group_id, "name": name, "wecom_group_id": wecom_group_id}
    repo.commit(corp_id, TagChanges(new_groups=[group], new_tags=new_tags), per_transaction=len(names) + 1)
    return [v for v in list_tags(repo, corp_id) if v.group_id == group_id]


def _wecom_group_id(group: Record, members: list[Record]) -> str | None:
    """The group's WeCom id while the group exists there: WeCom keeps no empty group, so a group
    none of whose tags is in WeCom (all hidden, say) was deleted with its last tag."""
    if group.get("wecom_group_id") and any(t.get("wecom_tag_id") for t in members):
        return str(group["wecom_group_id"])
    return None


def _push(
    client: WeComClient, group: Record, members: list[Record], names: list[str], group_name: str
) -> tuple[str, dict[str, str]]:
    """Create ``names`` in the group in WeCom: in the group while it exists there, else in a new group
    by that name (recreating what WeCom dropped). The group's WeCom id and each new tag's."""
    alive = _wecom_group_id(group, members)
    body: dict[str, Any] = {"tag": [{"name": n} for n in names]}
    body.update({"group_id": alive} if alive else {"group_name": group_name})
    created = client.add_corp_tag(body)
    return str(created["group_id"]), {t["name"]: str(t["id"]) for t in created.get("tag", [])}


def update_tag(
    repo: TagRepository,
    client: WeComClient,
    corp_id: str,
    tag_id: str,
    name: str | None,
    visible: bool | None,
) -> TagView:
    """Rename and / or change visibility; WeCom follows at once (shown to guides ⇔ exists in WeCom).

    Each change makes at most one WeCom call, before anything is stored here: if WeCom refuses it,
    neither side has changed. Hiding a group's last tag in WeCom deletes the group there too (WeCom
    keeps no empty group); showing a tag again then creates the group anew and keeps its new id.
    """
    tag = tag_of(repo, corp_id, tag_id)
    groups, tags = repo.library(corp_id)
    group_id = tag["group_id"]
    group = groups.get(group_id) or {}
    others = [t for t in members(tags, group_id) if t["tag_id"] != tag_id]
    changes: dict[str, Any] = {}
    group_changes: list[GroupChange] = []
    renamed = bool(name) and name != tag["name"]
    if renamed:
        check_tag_names({k: v for k, v in tags.items() if k != tag_id}, [str(name)], "name")
        changes.update(name=name)
    showing = visible is True and not tag["visible"]
    hiding = visible is False and tag["visible"]
    in_wecom = bool(tag.get("wecom_tag_id"))
    if showing and group_visible(group):
        new_name = str(changes.get("name", tag["name"]))
        wecom_group_id, ids = _push(client, group, others, [new_name], group.get("name", ""))
        changes.update(wecom_tag_id=ids[new_name])
        group_changes.append(GroupChange(group_id, set={"wecom_group_id": wecom_group_id}))
    elif hiding and in_wecom:  # hidden = deleted in WeCom; a rename there would be moot
        client.del_corp_tag([tag["wecom_tag_id"]], [])
        if not any(t.get("wecom_tag_id") for t in others):
            group_changes.append(GroupChange(group_id, remove=("wecom_group_id",)))
    elif renamed and in_wecom:
        client.edit_corp_tag(tag["wecom_tag_id"], str(name))
    if showing or hiding:
        changes.update(visible=bool(visible))
    tag_changes = []
    if changes:
        removal = ("wecom_tag_id",) if hiding else ()
        tag_changes.append(TagChange(tag_id, group_id, set=changes, remove=removal, must_exist=True))
    repo.commit(corp_id, TagChanges(groups=group_changes, tags=tag_changes))
    return view(tag_of(repo, corp_id, tag_id), repo.group(corp_id, group_id))


def delete_tag(repo: TagRepository, client: WeComClient, corp_id: str, tag_id: str) -> None:
    tag = tag_of(repo, corp_id, tag_id)
    group_changes = []
    if tag.get("wecom_tag_id"):
        client.del_corp_tag([tag["wecom_tag_id"]], [])
        _, tags = repo.library(corp_id)
        if not any(t.get("wecom_tag_id") for t in members(tags, tag["group_id"]) if t["tag_id"] != tag_id):
            group_changes.append(GroupChange(tag["group_id"], remove=("wecom_group_id",)))
    repo.commit(corp_id, TagChanges(groups=group_changes, deleted_tags=[tag_id]))


def add_tags(
    repo: TagRepository, client: WeComClient, corp_id: str, group_id: str, tag_names: list[str], visible: bool
) -> TagGroupView:
    """New tags in an existing group; those guides will see are created in WeCom's group at once."""
    group = group_of(repo, corp_id, group_id)
    _, tags = repo.library(corp_id)
    tag_ids = set(tags)
    names = list(dict.fromkeys(n.strip() for n in tag_names if n.strip()))
    if not names:
        raise InvalidInput("name at least one tag", field="tags")
    check_tag_names(tags, names, "tags")
    group_changes = []
    ids: dict[str, str] = {}
    if visible and group_visible(group):
        wecom_group_id, ids = _push(client, group, members(tags, group_id), names, group["name"])
        group_changes.append(GroupChange(group_id, set={"wecom_group_id": wecom_group_id}))
    new_tags = [
        new_tag(new_id(tag_ids, "tt", corp_id, group_id, n), group_id, n, visible, ids.get(n)) for n in names
    ]
    repo.commit(corp_id, TagChanges(groups=group_changes, new_tags=new_tags))
    return group_view(repo, corp_id, group_id)


def update_group(
    repo: TagRepository,
    client: WeComClient,
    corp_id: str,
    group_id: str,
    name: str | None,
    visible: bool | None,
) -> TagGroupView:
    """Rename a group and / or change its visibility to guides; WeCom follows at once.

    Hidden, the group is deleted in WeCom with its tags (their relations stay here, not shown to
    guides); shown again, it is created anew in WeCom with its visible tags and keeps the new ids.
    """
    group = group_of(repo, corp_id, group_id)
    groups, tags = repo.library(corp_id)
    group_members = members(tags, group_id)
    new_name = name.strip() if name and name.strip() != group["name"] else None
    if name is not None and not name.strip():
        raise InvalidInput("a tag group needs a name", field="name")
    if new_name and any(g["name"] == new_name for g in groups.values() if g["group_id"] != group_id):
        raise Conflict(f"a tag group named {new_name} exists", field="name")
    current = _wecom_group_id(group, group_members)
    changes: dict[str, Any] = {"name": new_name} if new_name else {}
    tag_changes: list[TagChange] = []
    remove: tuple[str, ...] = ()
    if visible is False and group_visible(group):
        if current:
            client.del_corp_tag([], [current])  # WeCom deletes the group's tags with it
        changes["visible"] = False
        tag_changes += [
            TagChange(t["tag_id"], group_id, remove=("wecom_tag_id",))
            for t in group_members
            if t.get("wecom_tag_id")
        ]
        remove = ("wecom_group_id",)
    elif visible is True and not group_visible(group):
        shown = [t for t in group_members if t["visible"]]
        if shown:
            wecom_group_id, ids = _push(client, {}, [], [t["name"] for t in shown], new_name or group["name"])
            changes["wecom_group_id"] = wecom_group_id
            tag_changes += [
                TagChange(t["tag_id"], group_id, set={"wecom_tag_id": ids[t["name"]]}) for t in shown
            ]
        changes["visible"] = True
    elif new_name and current:
        client.edit_corp_tag(current, new_name)
    group_changes = [GroupChange(group_id, changes, remove, must_exist=True)] if changes or remove else []
    repo.commit(corp_id, TagChanges(groups=group_changes, tags=tag_changes))
    return group_view(repo, corp_id, group_id)


def delete_group(repo: TagRepository, client: WeComClient, corp_id: str, group_id: str) -> None:
    """Delete a group and its tags, here and (when it exists there) in WeCom."""
    group = group_of(repo, corp_id, group_id)
    _, tags = repo.library(corp_id)
    group_members = members(tags, group_id)
    current = _wecom_group_id(group, group_members)
    if current:
        client.del_corp_tag([], [current])
    repo.commit(
        corp_id, TagChanges(deleted_tags=[t["tag_id"] for t in group_members], deleted_groups=[group_id])
    )
