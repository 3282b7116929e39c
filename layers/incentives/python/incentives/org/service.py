"""Synchronising the organization from WeCom; writes only what changed (SPEC §6)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from incentives.core.clock import iso_utc
from incentives.core.errors import UpstreamError
from incentives.org.model import Department, Member, OrgTree
from incentives.storage import keys
from incentives.storage.table import Delete, Put, Table, Write
from incentives.wecom.client import WeComClient


def dept_key(corp_id: str, dept_id: str) -> dict[str, str]:
    return {"pk": f"{keys.tenant(corp_id)}#DEPT#{dept_id}", "sk": "DEPT"}


def guide_key(corp_id: str, user_id: str) -> dict[str, str]:
    return {"pk": f"{keys.tenant(corp_id)}#GUIDE#{user_id}", "sk": "GUIDE"}


def _dept_item(corp_id: str, tree: OrgTree, department: Department) -> dict[str, Any]:
    return {
        **dept_key(corp_id, department.dept_id),
        "kind": "department",
        "corp_id": corp_id,
        "dept_id": department.dept_id,
        "name": department.name,
        "parent_id": department.parent_id or "",
        "path": list(tree.path(department.dept_id)),
        "is_outlet": tree.is_outlet(department.dept_id),
        "gsi2pk": f"{keys.tenant(corp_id)}#DEPTS",
        "gsi2sk": department.dept_id.zfill(12),
    }


def _guide_item(corp_id: str, tree: OrgTree, member: Member) -> dict[str, Any]:
    outlets = sorted(d for d in member.dept_ids if tree.is_outlet(d))
    return {
        **guide_key(corp_id, member.user_id),
        "kind": "guide",
        "corp_id": corp_id,
        "user_id": member.user_id,
        "name": member.name,
        "outlet_ids": outlets,
        "dept_ids": sorted(member.dept_ids),
        "dept_path": list(tree.path(outlets[0])) if outlets else [],
        "gsi2pk": f"{keys.tenant(corp_id)}#GUIDES",
        "gsi2sk": member.user_id,
    }


def _comparable(
    item: dict[str, Any], ignore: tuple[str, ...] = ("customer_count", "welcome_message", "synced_at")
) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ignore}


@dataclass(frozen=True)
class SyncResult:
    departments: int
    outlets: int
    guides: int
    written: int
    removed: int


def stored(table: Table, corp_id: str, collection: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        page = table.query(f"{keys.tenant(corp_id)}#{collection}", index="gsi2", limit=500, cursor=cursor)
        found.update({item["pk"]: item for item in page.items})
        cursor = page.cursor
        if cursor is None:
            return found


def sync_status_key(corp_id: str) -> dict[str, str]:
    return {"pk": f"{keys.tenant(corp_id)}#SETTINGS#ORG_SYNC", "sk": "STATUS"}


def _record_outcome(table: Table, corp_id: str, now: datetime, failure: UpstreamError | None) -> None:
    """Keep the last attempt's outcome: when, the last success, and what WeCom answered if it failed."""
    previous = table.get(sync_status_key(corp_id)) or {}
    status: dict[str, Any] = {
        **sync_status_key(corp_id),
        "kind": "org_sync_status",
        "last_attempt_at": iso_utc(now),
        "outcome": "failed" if failure else "ok",
        "failures_in_a_row": int(previous.get("failures_in_a_row", 0)) + 1 if failure else 0,
    }
    if failure is not None:
        status["failure"] = {"code": failure.code, "message": failure.message, **failure.details()}
    last_success = iso_utc(now) if failure is None else previous.get("last_success_at")
    if last_success:
        status["last_success_at"] = last_success
    table.transact([Put(status)])


def sync_organization(
    table: Table, client: WeComClient, now: datetime, progress: Callable[[str], None] = lambda _: None
) -> SyncResult:
    """Fetch departments and outlet members from WeCom; write the differences only.

    Everything is read from WeCom before anything is written, so a WeCom failure leaves the stored
    organization as it was; the outcome (with WeCom's error code) is kept on the tenant's sync
    status, and the error is raised for the caller to answer or retry. ``progress`` receives a line
    per stage (the handlers log it), so a long sync can be followed.
    """
    try:
        result = _synchronise(table, client, now, progress)
    except UpstreamError as failure:
        _record_outcome(table, client.corp_id, now, failure)
        raise
    _record_outcome(table, client.corp_id, now, None)
    return result


def _synchronise(
    table: Table, client: WeComClient, now: datetime, progress: Callable[[str], None]
) -> SyncResult:
    corp_id = client.corp_id
    departments = [
        Department(str(d["id"]), str(d["name"]), str(d["parentid"]) if d.get("parentid") else None)
        for d in client.departments()
    ]
    tree = OrgTree.of(departments)
    progress(f"{corp_id}: {len(departments)} departments, {len(tree.outlets())} outlets")
    members: dict[str, Member] = {}
    for number, outlet in enumerate(tree.outlets(), 1):
        for user in client.department_members(int(outlet)):
            known = members.get(user["userid"])
            dept_ids = tuple(
                sorted({*(known.dept_ids if known else ()), *(str(d) for d in user.get("department", []))})
            )
            members[user["userid"]] = Member(user["userid"], user.get("name", user["userid"]), dept_ids)
        if number % 50 == 0:
            progress(f"{corp_id}: members of {number} / {len(tree.outlets())} outlets read")
    have_depts, have_guides = stored(table, corp_id, "DEPTS"), stored(table, corp_id, "GUIDES")
    writes: list[Write] = []
    wanted: set[str] = set()
    for department in departments:
        old = have_depts.get(dept_key(corp_id, department.dept_id)["pk"], {})
        item = _dept_item(corp_id, tree, department)
        item.update({k: old[k] for k in ("welcome_message",) if k in old})
        wanted.add(item["pk"])
        if _comparable(old) != _comparable(item):
            writes.append(Put({**item, "synced_at": iso_utc(now)}))
    for member in members.values():
        old = have_guides.get(guide_key(corp_id, member.user_id)["pk"], {})
        item = _guide_item(corp_id, tree, member)
        item.update({k: old[k] for k in ("welcome_message",) if k in old})
        wanted.add(item["pk"])
        if _comparable(old) != _comparable(item):
            writes.append(Put({**item, "synced_at": iso_utc(now)}))
    removals = [
        Delete({"pk": pk, "sk": item["sk"]})
        for pk, item in {**have_depts, **have_guides}.items()
        if pk not in wanted
    ]
    for write in [*writes, *removals]:
        table.transact([write])
    progress(f"{corp_id}: {len(members)} guides; {len(writes)} items written, {len(removals)} removed")
    return SyncResult(len(departments), len(tree.outlets()), len(members), len(writes), len(removals))
