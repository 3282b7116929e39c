"""Synchronising the organization from WeCom; writes only what changed (SPEC §6)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import Any

from incentives.core.clock import iso_utc
from incentives.core.errors import UpstreamError
from incentives.org.model import Department, Member, OrgTree
from incentives.org.ports import OrgChanges, OrgRepository, Record
from incentives.org.sync_status import SyncState, SyncStopped, put_status, record_outcome, sync_status
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
    except Exception as crash:  # ours (the table, a bug): said on the status, then raised as it was
        stopped = SyncStopped(f"the sync stopped on an internal error ({type(crash).__name__}); run it again")
        record_outcome(repo, corp_id, now, stopped, None)
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


def departments_of(answers: list[dict[str, Any]]) -> list[Department]:
    return [
        Department(str(d["id"]), str(d["name"]), str(d["parentid"]) if d.get("parentid") else None)
        for d in answers
    ]


def _members_by_pages(client: WeComClient, tree: OrgTree) -> dict[str, Member] | None:
    """Every member of an outlet from ``user/list_id`` pages (one call per 10,000 member-department
    pairs), or None when WeCom refuses that API for this app. The pages carry no names: the members
    are unnamed here (``name`` empty) and keep the name stored for them when compared (``user/get``
    on their ``change_contact`` events names them), else their userid.

    Held compactly, as a brand's 100,000 guides must fit in the function's memory with room to
    spare: one string per department id and one tuple per set of departments, shared by every
    member in them."""
    members: dict[str, Member] = {}
    dept_ids: dict[str, str] = {}
    dept_sets: dict[tuple[str, ...], tuple[str, ...]] = {}
    cursor = ""
    while True:
        try:
            page, cursor = client.member_ids(cursor, MEMBER_PAGE_SIZE)
        except WeComApiError as error:
            if error.errcode == LIST_ID_NOT_GRANTED and not members:
                return None
            raise
        for entry in page:
            user_id, dept_id = str(entry["userid"]), str(entry["department"])
            known = members.get(user_id)
            joined = tuple(
                sorted({*(known.dept_ids if known else ()), dept_ids.setdefault(dept_id, dept_id)})
            )
            members[user_id] = Member(user_id, "", dept_sets.setdefault(joined, joined))
        del page
        if not cursor:
            break
    for user_id in [u for u, m in members.items() if not any(tree.is_outlet(d) for d in m.dept_ids)]:
        del members[user_id]
    return members


def members_of_outlets(
    client: WeComClient, outlets: Sequence[str], progress: Callable[[str], None] = lambda _: None
) -> dict[str, Member]:
    """The members of ``outlets`` read per outlet (``user/simplelist``), each once with every
    department they are listed in (the full sync without ``user/list_id``; a ``change_contact``
    event, of the departments that just became outlets). A member listed without a name is unnamed
    here (``name`` empty): compared, they keep the name stored for them, else their userid."""
    members: dict[str, Member] = {}
    for number, outlet in enumerate(outlets, 1):
        for user in client.department_members(int(outlet)):
            user_id = str(user["userid"])
            known = members.get(user_id)
            dept_ids = tuple(
                sorted({*(known.dept_ids if known else ()), *(str(d) for d in user.get("department", []))})
            )
            members[user_id] = Member(user_id, str(user.get("name") or ""), dept_ids)
        if number % 50 == 0:
            progress(f"{client.corp_id}: members of {number} / {len(outlets)} outlets read")
    return members


def _synchronise(
    repo: OrgRepository, client: WeComClient, now: datetime, progress: Callable[[str], None]
) -> SyncResult:
    corp_id = client.corp_id
    departments = departments_of(client.departments())
    tree = OrgTree.of(departments)
    progress(f"{corp_id}: {len(departments)} departments, {len(tree.outlets())} outlets")
    members = _members_by_pages(client, tree)
    if members is None:
        progress(f"{corp_id}: user/list_id not granted; reading members per outlet")
        members = members_of_outlets(client, tree.outlets(), progress)
    # Everything is read from WeCom: the stored guides are now read page by page against it.
    written, removed = reconcile(
        repo,
        corp_id,
        departments,
        repo.departments(corp_id),
        GuideChanges(members, lambda user_id, _: members.get(user_id), repo.guides_in_order(corp_id)),
        now,
    )
    progress(f"{corp_id}: {len(members)} guides; {written} items written, {removed} removed")
    return SyncResult(len(departments), len(tree.outlets()), len(members), written, removed)


WRITE_BATCH = 100
"""Guide writes and removals handed to storage at a time (only these are held as whole records)."""


@dataclass(frozen=True)
class GuideChanges:
    """Which guides to compare: the stored ones in ``stored`` (user id order), and the user ids
    ``read`` from WeCom (any order); ``member_of(user_id, stored record or None)`` is the member to
    store for it, None if it is no guide (a stored one is then removed). A full sync reads every
    member (a stored guide not read is gone); a change event reads one member or an outlet's and
    keeps the stored guides' members otherwise."""

    read: Iterable[str]
    member_of: Callable[[str, Record | None], Member | None]
    stored: Iterable[Record]


def reconcile(
    repo: OrgRepository,
    corp_id: str,
    departments: list[Department],
    have_depts: dict[str, Record],
    guides: GuideChanges,
    now: datetime,
) -> tuple[int, int]:
    """Write the departments and guides that differ from what is stored, remove the rest.

    The stored guides come in user id order (read page by page) and are merged with the user ids
    read, sorted: a stored guide is held only while it is compared, the changes are written a
    batch at a time. A write lands at or before the merge's place in that order, so it never shows
    up again in the pages still to read."""
    tree = OrgTree.of(departments)
    changed_depts = []
    for department in departments:
        old = have_depts.get(department.dept_id, {})
        new = department_record(corp_id, tree, department)
        new.update({k: old[k] for k in ("welcome_message",) if k in old})
        if _comparable(old) != _comparable(new):
            changed_depts.append({**new, "synced_at": iso_utc(now)})
    wanted_depts = {department.dept_id for department in departments}
    changes = OrgChanges(changed_depts, (), [d for d in have_depts if d not in wanted_depts], ())
    repo.apply(corp_id, changes)
    written, removed = changes.written, changes.removed
    batch: list[Record | str] = []
    for change in chain(_guide_changes(corp_id, tree, guides, now), [None]):
        if change is not None:
            batch.append(change)
        if batch and (change is None or len(batch) == WRITE_BATCH):
            written_guides = OrgChanges(
                guides=[c for c in batch if not isinstance(c, str)],
                removed_guides=[c for c in batch if isinstance(c, str)],
            )
            repo.apply(corp_id, written_guides)
            written, removed, batch = written + written_guides.written, removed + written_guides.removed, []
    return written, removed


def _guide_changes(
    corp_id: str, tree: OrgTree, guides: GuideChanges, now: datetime
) -> Iterator[Record | str]:
    """In user id order: each guide record that differs from the stored one (whole, to store) and
    the user id of each stored guide that is no longer a guide (to remove)."""
    order, member_of = sorted(guides.read), guides.member_of
    position, previous = 0, ""
    for old in guides.stored:
        user_id = str(old["user_id"])
        if user_id < previous:
            raise ValueError(f"stored guides are not in user id order: {user_id!r} after {previous!r}")
        previous = user_id
        while position < len(order) and order[position] < user_id:
            yield from _guide_change(corp_id, tree, member_of(order[position], None), {}, now)
            position += 1
        if position < len(order) and order[position] == user_id:
            position += 1
        yield from _guide_change(corp_id, tree, member_of(user_id, old), old, now)
    for user_id in order[position:]:
        yield from _guide_change(corp_id, tree, member_of(user_id, None), {}, now)


def _guide_change(
    corp_id: str, tree: OrgTree, member: Member | None, old: Record, now: datetime
) -> Iterator[Record | str]:
    """The guide's record to store if it differs from ``old`` (the stored one, or empty), or its
    user id to remove if it is stored and no longer a guide (``member`` None). An unnamed member
    keeps the stored name, else is named by their userid; the welcome message is kept."""
    if member is None:
        if old:
            yield str(old["user_id"])
        return
    named = Member(member.user_id, member.name or str(old.get("name") or member.user_id), member.dept_ids)
    new = guide_record(corp_id, tree, named)
    new.update({k: old[k] for k in ("welcome_message",) if k in old})
    if _comparable(old) != _comparable(new):
        yield {**new, "synced_at": iso_utc(now)}
