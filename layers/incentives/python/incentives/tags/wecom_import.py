"""Seed 002's manual import of WeCom's corp tag library (the rules are in ``tags.rules``)."""

from __future__ import annotations

from typing import Any

from incentives.tags.library import new_id, new_tag
from incentives.tags.ports import TagChanges, TagRepository
from incentives.tags.rules import LibraryGroup, LibraryTag, plan_import
from incentives.wecom.client import WeComClient


def import_from_wecom(repo: TagRepository, client: WeComClient, corp_id: str) -> dict[str, Any]:
    """Seed 002's manual import; imported tags keep their WeCom ids and are visible to guides."""
    groups, tags = repo.library(corp_id)
    wecom_groups = client.corp_tags()
    plan = plan_import(
        [LibraryGroup(g["group_id"], g["name"]) for g in groups.values()],
        [LibraryTag(t["tag_id"], t["group_id"], t["name"]) for t in tags.values()],
        wecom_groups,
    )
    by_name = {g["name"]: g["group_id"] for g in groups.values()}
    group_ids, tag_ids = set(groups), set(tags)
    wecom_by_name = {str(g["group_name"]): g for g in wecom_groups}
    new_groups = []
    for name in plan.new_groups:
        by_name[name] = new_id(group_ids, "tg", corp_id, name)
        new_groups.append(
            {"group_id": by_name[name], "name": name, "wecom_group_id": str(wecom_by_name[name]["group_id"])}
        )
    new_tags = []
    for group_name, tag_name in plan.new_tags:
        candidates = wecom_by_name[group_name]["tag"]
        wecom_tag: dict[str, Any] = next((t for t in candidates if t["name"] == tag_name), {})
        group_id = by_name[group_name]
        tag_id = new_id(tag_ids, "tt", corp_id, group_id, tag_name)
        new_tags.append(new_tag(tag_id, group_id, tag_name, True, wecom_tag.get("id")))
    # One write per transaction: what was imported before a failure stays, the next import skips it.
    repo.commit(corp_id, TagChanges(new_groups=new_groups, new_tags=new_tags), per_transaction=1)
    return {
        "groups_created": len(plan.new_groups),
        "tags_created": len(plan.new_tags),
        "skipped": list(plan.skipped),
    }
