"""A guide's own customers (seed 002): who they are, and the attributes a guide may edit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from incentives.core.clock import iso_utc
from incentives.core.errors import NotFound
from incentives.org.permissions import check_edit, load_permissions
from incentives.org.ports import OrgRepository, Record, Viewer


def own_customer(repo: OrgRepository, guide: Viewer, customer_id: str) -> Record:
    """The guide's customer, or 404 (another guide's customer is not leaked)."""
    customer = repo.customer(guide.corp_id, customer_id)
    if customer is None or customer.get("guide_id") != guide.subject:
        raise NotFound(f"no customer {customer_id} of yours", field="customer_id")
    return customer


def my_customers(repo: OrgRepository, guide: Viewer) -> list[Record]:
    """The guide's customers, newest first (those moved to another guide since are left out)."""
    mine = repo.guide_customers(guide.corp_id, guide.subject)
    return [
        customer
        for customer in sorted(mine, key=lambda c: c["attached_at"], reverse=True)
        if customer.get("guide_id") == guide.subject
    ]


def edit_customer(
    repo: OrgRepository, guide: Viewer, customer_id: str, changes: dict[str, str], now: datetime
) -> Record:
    """Store the attribute changes the guide may make (``check_edit`` refuses the others, nothing
    changed); the customer as stored afterwards."""
    customer = own_customer(repo, guide, customer_id)
    allowed = check_edit(changes, load_permissions(repo, guide.corp_id))
    attributes = {**customer.get("attributes", {}), **{k: v for k, v in allowed.items() if k != "name"}}
    updates: dict[str, Any] = {"attributes": attributes, "edited_at": iso_utc(now)}
    if "name" in allowed:
        updates["name"] = allowed["name"]
    repo.update_customer(guide.corp_id, customer_id, updates)
    return own_customer(repo, guide, customer_id)
