"""Synchronising the organization from WeCom; writes only what changed (SPEC §6)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from incentives.core.clock import iso_utc
from incentives.core.errors import UpstreamError
from incentives.org.model import Department, Member, OrgTree
from incentives.org.ports import OrgChanges, OrgRepository, Record
from incentives.org.sync_status import SyncState, put_status, record_outcome, sync_status
from incentives.wecom.client import WeComApiError, WeComClient


def department_record(corp_id: str, tree: OrgTree, department: Department) -> Record:
    return {
        "corp_id": corp_id,
        "dept_id": department.dept_id,
        "name": department.name,
        "parent_id": department.parent_id or "",
        "path": list(tree.path(department.dept_id)),
        "is_outlet": tree.is_outlet(department.dept_id),
    }


def guide_record(corp_id: str, tree: OrgTree, member: Member) -> Record:
    outlets = sorted(d for d in member.dept_ids if tree.is_outlet(d))
    return {
        "corp_id": corp_id,
        "user_id": member.user_id,
        "name": member.name,
        "outlet_ids": outlets,
        "dept_ids": sorted(member.dept_ids),
        "dept_path": list(tree.path(outlets[0])) if outlets else [],
    }


def _comparable(
    item: Record, ignore: tuple[str, ...] = ("customer_count", "welcome_message", "synced_at")
) -> Record:
    return {k: v for k, v in item.items() if k not in ignore}


@dataclass(frozen=True)
class SyncResult:
    departments: int
    outlets: int
    guides: int
    written: int
    removed: int


def sync_organization(
    repo: OrgRepository, client: WeComClient, now: datetime, progress: Callable[[str], None] = lambda _: None
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
        put_status(repo, corp_id, sync_status(repo, corp_id).model_copy(update={"progress": line}))

    put_status(
        repo,
        corp_id,
        sync_status(repo, corp_id).model_copy(
            update={"state": SyncState.RUNNING, "started_at": iso_utc(now), "progress": "started"}
        ),
    )
    try:
        result = _synchronise(repo, client, now, stage)
    except UpstreamError as failure:
        record_outcome(repo, corp_id, now, failure, None)
        raise
    record_outcome(repo, corp_id, now, None, vars(result))
    return result


def run_requested_sync(repo: OrgRepository, client: WeComClient, now: datetime) -> str:
    """A manual sync in the background: its outcome, failure included, is on the sync status (the
    request is not retried: the admin asks again, and the daily run tries anyway)."""
    try:
        result = sync_organization(repo, client, now)
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
    client: WeComClient, tree: OrgTree, known: dict[str, Record]
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
        name = known.get(user_id, {}).get("name") or user_id
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
    repo: OrgRepository, client: WeComClient, now: datetime, progress: Callable[[str], None]
) -> SyncResult:
    corp_id = client.corp_id
    departments = _departments_of(client.departments())
    tree = OrgTree.of(departments)
    progress(f"{corp_id}: {len(departments)} departments, {len(tree.outlets())} outlets")
    have_depts, have_guides = repo.departments(corp_id), repo.guides(corp_id)
    members = _members_by_pages(client, tree, have_guides)
    if members is None:
        progress(f"{corp_id}: user/list_id not granted; reading members per outlet")
        members = _members_per_outlet(client, tree, progress)
    written, removed = _reconcile(repo, corp_id, departments, members, have_depts, have_guides, now)
    progress(f"{corp_id}: {len(members)} guides; {written} items written, {removed} removed")
    return SyncResult(len(departments), len(tree.outlets()), len(members), written, removed)


def _reconcile(
    repo: OrgRepository,
    corp_id: str,
    departments: list[Department],
    members: dict[str, Member],
    have_depts: dict[str, Record],
    have_guides: dict[str, Record],
    now: datetime,
) -> tuple[int, int]:
    """Write the departments and guides that differ from what is stored, remove the rest."""
    tree = OrgTree.of(departments)
    changed_depts, changed_guides = [], []
    for department in departments:
        old = have_depts.get(department.dept_id, {})
        new = department_record(corp_id, tree, department)
        new.update({k: old[k] for k in ("welcome_message",) if k in old})
        if _comparable(old) != _comparable(new):
            changed_depts.append({**new, "synced_at": iso_utc(now)})
    for member in members.values():
        old = have_guides.get(member.user_id, {})
        new = guide_record(corp_id, tree, member)
        new.update({k: old[k] for k in ("welcome_message",) if k in old})
        if _comparable(old) != _comparable(new):
            changed_guides.append({**new, "synced_at": iso_utc(now)})
    wanted_depts = {department.dept_id for department in departments}
    changes = OrgChanges(
        changed_depts,
        changed_guides,
        [dept_id for dept_id in have_depts if dept_id not in wanted_depts],
        [user_id for user_id in have_guides if user_id not in members],
    )
    repo.apply(corp_id, changes)
    return changes.written, changes.removed


def apply_contact_change(
    repo: OrgRepository, client: WeComClient, change_type: str, user_id: str, party_id: str, now: datetime
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
    have_depts, have_guides = repo.departments(corp_id), repo.guides(corp_id)
    if not have_depts:
        result = sync_organization(repo, client, now)
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
        if not have_depts.get(outlet, {}).get("is_outlet"):
            for user in client.department_members(int(outlet)):
                known = members.get(user["userid"])
                joined = {*(known.dept_ids if known else ()), *(str(d) for d in user.get("department", []))}
                name = known.name if known else str(user.get("name") or user["userid"])
                members[user["userid"]] = Member(user["userid"], name, tuple(sorted(joined)))
    guides = {
        key: member for key, member in members.items() if any(tree.is_outlet(d) for d in member.dept_ids)
    }
    written, removed = _reconcile(
        repo, corp_id, list(departments.values()), guides, have_depts, have_guides, now
    )
    return f"change_contact {change_type}: {written} written, {removed} removed"
