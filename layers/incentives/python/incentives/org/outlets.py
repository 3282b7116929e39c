"""Outlets for operators: list (scoped, fuzzy name search, subtree filter), Contact-Me codes, welcomes."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from incentives.core.access import Principal
from incentives.core.clock import iso_utc
from incentives.core.errors import NotFound
from incentives.org.service import dept_key, guide_key, stored
from incentives.storage.keys import contact_way_key, outlet_customers_key
from incentives.storage.table import Exists, Put, Table, Update
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
    table: Table, principal: Principal, query: str | None = None, subtrees: Collection[str] = ()
) -> list[OutletView]:
    """Outlets the principal may see, optionally matching ``query`` and inside any of ``subtrees``."""
    departments = [
        item for item in stored(table, principal.corp_id, "DEPTS").values() if item.get("is_outlet")
    ]
    guides = stored(table, principal.corp_id, "GUIDES").values()
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
    counts = table.get_many([outlet_customers_key(principal.corp_id, i["dept_id"]) for i, _, _ in found])
    return sorted(
        (
            OutletView(
                outlet_id=item["dept_id"],
                name=item["name"],
                path=path,
                guide_count=guide_count,
                customer_count=int((counted or {}).get("customers", 0)),
            )
            for (item, path, guide_count), counted in zip(found, counts, strict=True)
        ),
        key=lambda outlet: outlet.path,
    )


def visible_outlet(table: Table, principal: Principal, outlet_id: str) -> dict[str, Any]:
    """The outlet's item if the principal may see it; otherwise 404 (its existence is not leaked)."""
    item = table.get(dept_key(principal.corp_id, outlet_id))
    if item is None or not item.get("is_outlet") or not principal.sees_department_path(item.get("path", [])):
        raise NotFound(f"no outlet {outlet_id}", field="outlet_id")
    return item


def visible_guide(table: Table, principal: Principal, user_id: str) -> dict[str, Any]:
    """The guide's item if the principal may see it; otherwise 404."""
    guide = table.get(guide_key(principal.corp_id, user_id))
    if guide is None or not principal.sees_department_path(guide.get("dept_path", [])):
        raise NotFound(f"no guide {user_id}", field="user_id")
    return guide


def create_contact_way(
    table: Table,
    client: WeComClient,
    principal: Principal,
    outlet_id: str,
    welcome_message: str | None,
    now: datetime,
    data_node: str | None = None,
) -> ContactWayView:
    """A Contact-Me QR code for an outlet: its guides, a ``state`` naming it, its welcome message.

    WeCom creates the code first; it is stored only once WeCom has answered, so a WeCom error
    leaves nothing behind. ``data_node`` records the node it was created in.
    """
    visible_outlet(table, principal, outlet_id)
    guides = sorted(
        g["user_id"]
        for g in stored(table, principal.corp_id, "GUIDES").values()
        if outlet_id in g.get("outlet_ids", [])
    )
    if not guides:
        raise NotFound(
            f"outlet {outlet_id} has no guides yet; sync the organization first", field="outlet_id"
        )
    state = f"outlet-{outlet_id}"
    answer = client.add_contact_way(state, guides)
    table.transact(
        [
            Put(
                {
                    **contact_way_key(principal.corp_id, state),
                    "kind": "contact_way",
                    "outlet_id": outlet_id,
                    "state": state,
                    "config_id": answer["config_id"],
                    "qr_code": answer.get("qr_code", ""),
                    "guides": guides,
                    "welcome_message": welcome_message,
                    "created_at": iso_utc(now),
                    "created_by": principal.subject,
                    "data_node": data_node,
                }
            )
        ]
    )
    return ContactWayView(
        outlet_id=outlet_id,
        state=state,
        config_id=answer["config_id"],
        qr_code=answer.get("qr_code", ""),
        guides=guides,
        welcome_message=welcome_message,
    )


def set_guide_welcome(table: Table, principal: Principal, user_id: str, text: str) -> None:
    """A guide's default welcome message (sent when the QR code has none)."""
    visible_guide(table, principal, user_id)
    table.transact(
        [Update(guide_key(principal.corp_id, user_id), set={"welcome_message": text}, conditions=(Exists(),))]
    )
