"""Tags on customers (seed 002): a guide tags their own customers; operators find segments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from incentives.core.errors import Forbidden, InvalidInput
from incentives.org.ports import Viewer
from incentives.tags.library import shown_to_guides, tag_of
from incentives.tags.ports import TagRepository
from incentives.tags.rules import matches
from incentives.wecom.client import WeComClient


def mark_customer_tags(
    repo: TagRepository,
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
        tag = tag_of(repo, corp_id, tag_id)
        if not shown_to_guides(tag, repo.group(corp_id, tag["group_id"])):
            raise Forbidden(f"tag {tag_id} is not visible to guides")
        wecom_ids[tag_id] = tag.get("wecom_tag_id", "")
    client.mark_tag(
        guide_id,
        customer["external_user_id"],
        [wecom_ids[t] for t in add if wecom_ids[t]],
        [wecom_ids[t] for t in remove if wecom_ids[t]],
    )
    current = sorted((set(customer.get("tag_ids", [])) | set(add)) - set(remove))
    repo.set_customer_tags(corp_id, customer["customer_id"], current, now)
    return current


class SegmentMember(BaseModel):
    customer_id: str
    guide_id: str
    outlet_id: str
    tag_ids: list[str]


def segment(repo: TagRepository, principal: Viewer, tag_ids: list[str]) -> list[SegmentMember]:
    """Customers (in the principal's scope) with the chosen tags: OR within a group, AND across groups."""
    _, tags = repo.library(principal.corp_id)
    unknown = [tag_id for tag_id in tag_ids if tag_id not in tags]
    if unknown:
        raise InvalidInput(f"unknown tags {unknown}", field="tag_ids")
    selection: dict[str, list[str]] = {}
    for tag_id in tag_ids:
        selection.setdefault(tags[tag_id]["group_id"], []).append(tag_id)
    found = []
    for guide in repo.guides(principal.corp_id):
        if not principal.sees_department_path(guide.get("dept_path", [])):
            continue
        for customer in repo.guide_customers(principal.corp_id, guide["user_id"]):
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
