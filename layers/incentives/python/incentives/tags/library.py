"""The tag library as operators and guides read it: groups, tags, what guides see (seed 002)."""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, Field

from incentives.core.errors import Conflict, NotFound
from incentives.tags.ports import Record, TagRepository


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


def new_id(taken: set[str], prefix: str, *parts: str) -> str:
    """An id from the names, or, when a renamed group or tag already holds that one, the next free
    variant; it is added to ``taken``."""
    candidate, n = _id(prefix, *parts), 1
    while candidate in taken:
        n += 1
        candidate = _id(prefix, *parts, str(n))
    taken.add(candidate)
    return candidate


def new_tag(tag_id: str, group_id: str, name: str, visible: bool, wecom_tag_id: str | None) -> Record:
    return {
        "tag_id": tag_id,
        "group_id": group_id,
        "name": name,
        "visible": visible,
        "wecom_tag_id": wecom_tag_id,
    }


def group_visible(group: Record | None) -> bool:
    """Groups stored before group visibility existed are visible."""
    return bool((group or {}).get("visible", True))


def shown_to_guides(tag: Record, group: Record | None) -> bool:
    """Guides see a tag, and its relations to customers, only while the tag and its group are visible."""
    return bool(tag["visible"]) and group_visible(group)


def view(tag: Record, group: Record | None) -> TagView:
    return TagView(
        tag_id=tag["tag_id"],
        group_id=tag["group_id"],
        group_name=(group or {}).get("name", ""),
        name=tag["name"],
        visible=bool(tag["visible"]),
        group_visible=group_visible(group),
        wecom_tag_id=tag.get("wecom_tag_id"),
    )


def list_tags(repo: TagRepository, corp_id: str, visible_only: bool = False) -> list[TagView]:
    groups, tags = repo.library(corp_id)
    return sorted(
        (
            view(t, groups.get(t["group_id"]))
            for t in tags.values()
            if not visible_only or shown_to_guides(t, groups.get(t["group_id"]))
        ),
        key=lambda v: (v.group_name, v.name),
    )


def guide_tag_ids(repo: TagRepository, corp_id: str) -> set[str]:
    """The tags guides see now; a customer's relations to other tags are kept but not shown."""
    groups, tags = repo.library(corp_id)
    return {t["tag_id"] for t in tags.values() if shown_to_guides(t, groups.get(t["group_id"]))}


def tag_of(repo: TagRepository, corp_id: str, tag_id: str) -> Record:
    item = repo.tag(corp_id, tag_id)
    if item is None:
        raise NotFound(f"no tag {tag_id}", field="tag_id")
    return item


def group_of(repo: TagRepository, corp_id: str, group_id: str) -> Record:
    item = repo.group(corp_id, group_id)
    if item is None:
        raise NotFound(f"no tag group {group_id}", field="group_id")
    return item


def members(tags: dict[str, Record], group_id: str) -> list[Record]:
    return sorted((t for t in tags.values() if t["group_id"] == group_id), key=lambda t: t["name"])


def check_tag_names(tags: dict[str, Record], names: list[str], field: str) -> None:
    taken = {t["name"] for t in tags.values()} & set(names)
    if taken:
        raise Conflict(f"tags already exist: {sorted(taken)}", field=field)


def group_view(repo: TagRepository, corp_id: str, group_id: str) -> TagGroupView:
    group = group_of(repo, corp_id, group_id)
    _, tags = repo.library(corp_id)
    return TagGroupView(
        group_id=group_id,
        name=group["name"],
        visible=group_visible(group),
        wecom_group_id=group.get("wecom_group_id"),
        tags=[view(t, group) for t in members(tags, group_id)],
    )
