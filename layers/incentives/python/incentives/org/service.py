"""Synchronising the organization from WeCom; writes only what changed (SPEC §6)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from incentives.core.clock import iso_utc
from incentives.core.errors import UpstreamError
from incentives.org.model import Department, Member, OrgTree
from incentives.storage import keys
from incentives.storage.table import Delete, Put, Table, Write
from incentives.wecom.client import WeComApiError, WeComClient


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


class SyncState(StrEnum):
    IDLE = "idle"
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


class SyncStatus(BaseModel):
    """The tenant's organization sync as an operator follows it (``GET /admin/org/sync``)."""

    state: SyncState = SyncState.IDLE
    requested_at: str | None = Field(default=None, description="When an admin last asked for a sync")
    requested_by: str | None = None
    started_at: str | None = None
    progress: str | None = Field(default=None, description="The last stage reached")
    finished_at: str | None = None
    last_attempt_at: str | None = None
    last_success_at: str | None = None
    outcome: str | None = Field(default=None, description="ok | failed, of the last attempt")
    failures_in_a_row: int = 0
    failure: dict[str, Any] | None = Field(default=None, description="What WeCom answered, when it failed")
    result: dict[str, int] | None = Field(default=None, description="Counts of the last successful sync")


def sync_status(table: Table, corp_id: str) -> SyncStatus:
    item = table.get(sync_status_key(corp_id)) or {}
    return SyncStatus.model_validate({k: v for k, v in item.items() if k in SyncStatus.model_fields})


def _put_status(table: Table, corp_id: str, status: SyncStatus) -> SyncStatus:
    table.transact(
        [
            Put(
                {
                    **sync_status_key(corp_id),
                    "kind": "org_sync_status",
                    **status.model_dump(mode="json", exclude_none=True),
                }
            )
        ]
    )
    return status


def request_sync(table: Table, corp_id: str, requested_by: str, now: datetime) -> SyncStatus:
    """Mark a manual sync as queued; the caller sends the request to the background worker."""
    status = sync_status(table, corp_id).model_copy(
        update={"state": SyncState.QUEUED, "requested_at": iso_utc(now), "requested_by": requested_by}
    )
    return _put_status(table, corp_id, status)


def _record_outcome(
    table: Table, corp_id: str, now: datetime, failure: UpstreamError | None, result: SyncResult | None
) -> None:
    """Keep the last attempt's outcome: when, the last success, and what WeCom answered if it failed."""
    previous = sync_status(table, corp_id)
    update: dict[str, Any] = {
        "state": SyncState.FAILED if failure else SyncState.FINISHED,
        "finished_at": iso_utc(now),
        "last_attempt_at": iso_utc(now),
        "outcome": "failed" if failure else "ok",
        "failures_in_a_row": previous.failures_in_a_row + 1 if failure else 0,
        "failure": {"code": failure.code, "message": failure.message, **failure.details()}
        if failure
        else None,
    }
    if result is not None:
        update.update(last_success_at=iso_utc(now), result=vars(result))
    _put_status(table, corp_id, previous.model_copy(update=update))


def sync_organization(
    table: Table, client: WeComClient, now: datetime, progress: Callable[[str], None] = lambda _: None
) -> SyncResult:
    """Fetch departments and outlet members from WeCom; write the differences only.

    Everything is read from WeCom before anything is written, so a WeCom failure leaves the stored
    organization as it was; the state (running, the stage reached, then finished or failed with
    WeCom's error code) is kept on the tenant's sync status, and the error is raised for the caller
    to answer or retry. ``progress`` also receives each stage (the handlers log it).
    """
    corp_id = client.corp_id

    def stage(line: str) -> None:
        progress(line)
        _put_status(table, corp_id, sync_status(table, corp_id).model_copy(update={"progress": line}))

    _put_status(
        table,
        corp_id,
        sync_status(table, corp_id).model_copy(
            update={"state": SyncState.RUNNING, "started_at": iso_utc(now), "progress": "started"}
        ),
    )
    try:
        result = _synchronise(table, client, now, stage)
    except UpstreamError as failure:
        _record_outcome(table, corp_id, now, failure, None)
        raise
    _record_outcome(table, corp_id, now, None, result)
    return result


def run_requested_sync(table: Table, client: WeComClient, now: datetime) -> str:
    """A manual sync in the background: its outcome, failure included, is on the sync status (the
    request is not retried: the admin asks again, and the daily run tries anyway)."""
    try:
        result = sync_organization(table, client, now)
    except UpstreamError as failure:
        return f"organization sync failed: {failure.message}"
    return f"organization synced: {result.written} written, {result.removed} removed"


LIST_ID_NOT_GRANTED = 48002
"""``user/list_id`` is not granted to the app: read members per outlet instead."""
MEMBER_PAGE_SIZE = 10_000
"""``user/list_id`` pairs per page: WeCom's maximum."""
UNKNOWN_DEPARTMENT = 60123
UNKNOWN_MEMBER = 60111


def _departments_of(answers: list[dict[str, Any]]) -> list[Department]:
    return [
        Department(str(d["id"]), str(d["name"]), str(d["parentid"]) if d.get("parentid") else None)
        for d in answers
    ]


def _members_by_pages(
    client: WeComClient, tree: OrgTree, known: dict[str, dict[str, Any]]
) -> dict[str, Member] | None:
    """Every member of an outlet from ``user/list_id`` pages (one call per 10,000 member-department
    pairs), or None when WeCom refuses that API for this app. The pages carry no names: a member
    keeps the name stored for them (``user/get`` on their ``change_contact`` events names them),
    else their userid."""
    pairs: dict[str, set[str]] = {}
    cursor = ""
    while True:
        try:
            page, cursor = client.member_ids(cursor, MEMBER_PAGE_SIZE)
        except WeComApiError as error:
            if error.errcode == LIST_ID_NOT_GRANTED and not pairs:
                return None
            raise
        for entry in page:
            pairs.setdefault(str(entry["userid"]), set()).add(str(entry["department"]))
        if not cursor:
            break
    members = {}
    for user_id, dept_ids in pairs.items():
        if not any(tree.is_outlet(d) for d in dept_ids):
            continue
        name = known.get(guide_key(client.corp_id, user_id)["pk"], {}).get("name") or user_id
        members[user_id] = Member(user_id, str(name), tuple(sorted(dept_ids)))
    return members


def _members_per_outlet(
    client: WeComClient, tree: OrgTree, progress: Callable[[str], None]
) -> dict[str, Member]:
    members: dict[str, Member] = {}
    for number, outlet in enumerate(tree.outlets(), 1):
        for user in client.department_members(int(outlet)):
            known = members.get(user["userid"])
            dept_ids = tuple(
                sorted({*(known.dept_ids if known else ()), *(str(d) for d in user.get("department", []))})
            )
            members[user["userid"]] = Member(user["userid"], user.get("name", user["userid"]), dept_ids)
        if number % 50 == 0:
            progress(f"{client.corp_id}: members of {number} / {len(tree.outlets())} outlets read")
    return members


def _synchronise(
    table: Table, client: WeComClient, now: datetime, progress: Callable[[str], None]
) -> SyncResult:
    corp_id = client.corp_id
    departments = _departments_of(client.departments())
    tree = OrgTree.of(departments)
    progress(f"{corp_id}: {len(departments)} departments, {len(tree.outlets())} outlets")
    have_depts, have_guides = stored(table, corp_id, "DEPTS"), stored(table, corp_id, "GUIDES")
    members = _members_by_pages(client, tree, have_guides)
    if members is None:
        progress(f"{corp_id}: user/list_id not granted; reading members per outlet")
        members = _members_per_outlet(client, tree, progress)
    written, removed = _reconcile(table, corp_id, departments, members, have_depts, have_guides, now)
    progress(f"{corp_id}: {len(members)} guides; {written} items written, {removed} removed")
    return SyncResult(len(departments), len(tree.outlets()), len(members), written, removed)


def _reconcile(
    table: Table,
    corp_id: str,
    departments: list[Department],
    members: dict[str, Member],
    have_depts: dict[str, dict[str, Any]],
    have_guides: dict[str, dict[str, Any]],
    now: datetime,
) -> tuple[int, int]:
    """Write the departments and guides that differ from what is stored, remove the rest."""
    tree = OrgTree.of(departments)
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
    return len(writes), len(removals)


def apply_contact_change(
    table: Table, client: WeComClient, change_type: str, user_id: str, party_id: str, now: datetime
) -> str:
    """A ``change_contact`` event (SPEC §4.2): re-fetch only what it names, then re-derive paths,
    outlets and guides from what is stored, writing the differences only.

    ``create_user`` / ``update_user`` → ``user/get`` of that member; ``delete_user`` → none;
    ``create_party`` / ``update_party`` → ``department/get`` of that department; ``delete_party`` →
    none. Members are re-read (``user/simplelist``) only of a department that just became an
    outlet; members moving arrive as their own user events.
    Before the first full sync (nothing stored) the event runs one.
    """
    corp_id = client.corp_id
    have_depts, have_guides = stored(table, corp_id, "DEPTS"), stored(table, corp_id, "GUIDES")
    if not have_depts:
        result = sync_organization(table, client, now)
        return f"organization synced: {result.written} written, {result.removed} removed"
    departments = {
        item["dept_id"]: Department(item["dept_id"], item["name"], item.get("parent_id") or None)
        for item in have_depts.values()
    }
    members = {
        item["user_id"]: Member(item["user_id"], item["name"], tuple(item.get("dept_ids", [])))
        for item in have_guides.values()
    }
    if change_type in ("create_party", "update_party") and party_id:
        try:
            [answer] = _departments_of([client.department(party_id)])
            departments[answer.dept_id] = answer
        except WeComApiError as error:
            if error.errcode != UNKNOWN_DEPARTMENT:
                raise
            departments.pop(party_id, None)
    elif change_type == "delete_party" and party_id:
        departments.pop(party_id, None)
    elif change_type in ("create_user", "update_user") and user_id:
        try:
            user = client.member(user_id)
        except WeComApiError as error:
            if error.errcode != UNKNOWN_MEMBER:
                raise
            members.pop(user_id, None)
        else:
            dept_ids = tuple(sorted(str(d) for d in user.get("department", [])))
            members[user_id] = Member(user_id, str(user.get("name") or user_id), dept_ids)
    elif change_type == "delete_user" and user_id:
        members.pop(user_id, None)
    else:
        return f"change_contact {change_type or '?'}: nothing named, nothing re-fetched"
    tree = OrgTree.of(departments.values())
    for outlet in tree.outlets():  # a department that just became an outlet: read its members
        if not have_depts.get(dept_key(corp_id, outlet)["pk"], {}).get("is_outlet"):
            for user in client.department_members(int(outlet)):
                known = members.get(user["userid"])
                joined = {*(known.dept_ids if known else ()), *(str(d) for d in user.get("department", []))}
                name = known.name if known else str(user.get("name") or user["userid"])
                members[user["userid"]] = Member(user["userid"], name, tuple(sorted(joined)))
    guides = {
        key: member for key, member in members.items() if any(tree.is_outlet(d) for d in member.dept_ids)
    }
    written, removed = _reconcile(
        table, corp_id, list(departments.values()), guides, have_depts, have_guides, now
    )
    return f"change_contact {change_type}: {written} written, {removed} removed"
