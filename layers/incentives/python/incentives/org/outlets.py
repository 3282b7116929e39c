"""Outlets for operators: list (scoped, fuzzy name search, subtree filter), Contact-Me codes, welcomes."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from incentives.core.clock import iso_utc
from incentives.core.errors import NotFound
from incentives.org.ports import OrgRepository, Record, Viewer
from incentives.wecom.client import WeComClient


class OutletView(BaseModel):
    outlet_id: str
    name: str
    path: list[str] = Field(description="Department ids from the root to the outlet")
    guide_count: int
    customer_count: int = Field(
        description="Customers whose active binding is to this outlet (a move or a deletion leaves it)"
    )


class ContactWayView(BaseModel):
    outlet_id: str
    state: str
    config_id: str
    qr_code: str
    guides: list[str]
    welcome_message: str | None


def list_outlets(
    repo: OrgRepository, principal: Viewer, query: str | None = None, subtrees: Collection[str] = ()
) -> list[OutletView]:
    """Outlets the principal may see, optionally matching ``query`` and inside any of ``subtrees``."""
    departments = [item for item in repo.departments(principal.corp_id).values() if item.get("is_outlet")]
    guides = repo.guides(principal.corp_id).values()
    needle = (query or "").strip().lower()
    found: list[tuple[dict[str, Any], list[str], int]] = []
    for item in departments:
        path = [str(d) for d in item.get("path", [])]
        if not principal.sees_department_path(path):
            continue
        if needle and needle not in item["name"].lower():
            continue
        if subtrees and not any(node in path for node in subtrees):
            continue
        count = sum(1 for guide in guides if item["dept_id"] in guide.get("outlet_ids", []))
        found.append((item, path, count))
    counts = repo.outlet_customer_counts(principal.corp_id, [i["dept_id"] for i, _, _ in found])
    return sorted(
        (
            OutletView(
                outlet_id=item["dept_id"],
                name=item["name"],
                path=path,
                guide_count=guide_count,
                customer_count=counted,
            )
            for (item, path, guide_count), counted in zip(found, counts, strict=True)
        ),
        key=lambda outlet: outlet.path,
    )


def visible_outlet(repo: OrgRepository, principal: Viewer, outlet_id: str) -> Record:
    """The outlet if the principal may see it; otherwise 404 (its existence is not leaked)."""
    item = repo.department(principal.corp_id, outlet_id)
    if item is None or not item.get("is_outlet") or not principal.sees_department_path(item.get("path", [])):
        raise NotFound(f"no outlet {outlet_id}", field="outlet_id")
    return item


def visible_guide(repo: OrgRepository, principal: Viewer, user_id: str) -> Record:
    """The guide if the principal may see it; otherwise 404."""
    guide = repo.guide(principal.corp_id, user_id)
    if guide is None or not principal.sees_department_path(guide.get("dept_path", [])):
        raise NotFound(f"no guide {user_id}", field="user_id")
    return guide


def create_contact_way(
    repo: OrgRepository,
    client: WeComClient,
    principal: Viewer,
    outlet_id: str,
    welcome_message: str | None,
    now: datetime,
    data_node: str | None = None,
) -> ContactWayView:
    """A Contact-Me QR code for an outlet: its guides, a ``state`` naming it, its welcome message.

    WeCom creates the code first; it is stored only once WeCom has answered, so a WeCom error
    leaves nothing behind. ``data_node`` records the node it was created in.
    """
    visible_outlet(repo, principal, outlet_id)
    guides = sorted(
        g["user_id"] for g in repo.guides(principal.corp_id).values() if outlet_id in g.get("outlet_ids", [])
    )
    if not guides:
        raise NotFound(
            f"outlet {outlet_id} has no guides yet; sync the organization first", field="outlet_id"
        )
    state = f"outlet-{outlet_id}"
    answer = client.add_contact_way(state, guides)
    repo.save_contact_way(
        principal.corp_id,
        {
            "outlet_id": outlet_id,
            "state": state,
            "config_id": answer["config_id"],
            "qr_code": answer.get("qr_code", ""),
            "guides": guides,
            "welcome_message": welcome_message,
            "created_at": iso_utc(now),
            "created_by": principal.subject,
            "data_node": data_node,
        },
    )
    return ContactWayView(
        outlet_id=outlet_id,
        state=state,
        config_id=answer["config_id"],
        qr_code=answer.get("qr_code", ""),
        guides=guides,
        welcome_message=welcome_message,
    )


def set_guide_welcome(repo: OrgRepository, principal: Viewer, user_id: str, text: str) -> None:
    """A guide's default welcome message (sent when the QR code has none)."""
    visible_guide(repo, principal, user_id)
    repo.set_guide_welcome(principal.corp_id, user_id, text)
