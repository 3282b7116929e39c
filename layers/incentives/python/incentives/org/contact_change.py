"""A WeCom ``change_contact`` event (SPEC §4.2): what it names is re-fetched and re-derived, at the
cost of what it names (decision 154)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from incentives.org.model import Department, Member, OrgTree
from incentives.org.ports import OrgRepository, Record
from incentives.org.sync import (
    UNKNOWN_DEPARTMENT,
    UNKNOWN_MEMBER,
    GuideChanges,
    departments_of,
    members_of_outlets,
    reconcile,
    sync_organization,
)
from incentives.wecom.client import WeComApiError, WeComClient

PARTY_CHANGES = ("create_party", "update_party", "delete_party")
USER_CHANGES = ("create_user", "update_user", "delete_user")


def apply_contact_change(
    repo: OrgRepository, client: WeComClient, change_type: str, user_id: str, party_id: str, now: datetime
) -> str:
    """A ``change_contact`` event (SPEC §4.2): re-fetch only what it names, then re-derive paths,
    outlets and guides from what is stored, writing the differences only.

    ``create_user`` / ``update_user`` → ``user/get`` of that member; ``delete_user`` → none;
    ``create_party`` / ``update_party`` → ``department/get`` of that department; ``delete_party`` →
    none. Members are re-read (``user/simplelist``) only of a department that just became an
    outlet; members moving arrive as their own user events.

    Storage is read to match: a user event reads the departments (the tree) and that one guide; a
    department event reads the departments and then the stored guides page by page, as the full
    sync does, since the tree changed under them. Before the first full sync (nothing stored) the
    event runs one.
    """
    corp_id = client.corp_id
    have_depts = repo.departments(corp_id)
    if not have_depts:
        result = sync_organization(repo, client, now)
        return f"organization synced: {result.written} written, {result.removed} removed"
    departments = {
        item["dept_id"]: Department(item["dept_id"], item["name"], item.get("parent_id") or None)
        for item in have_depts.values()
    }
    replaced: dict[str, Member | None] = {}  # the member named by a user event (None: gone)
    if change_type in ("create_party", "update_party") and party_id:
        try:
            [answer] = departments_of([client.department(party_id)])
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
            replaced[user_id] = None
        else:
            dept_ids = tuple(sorted(str(d) for d in user.get("department", [])))
            replaced[user_id] = Member(user_id, str(user.get("name") or ""), dept_ids)  # unnamed: kept
    elif change_type == "delete_user" and user_id:
        replaced[user_id] = None
    else:
        return f"change_contact {change_type or '?'}: nothing named, nothing re-fetched"
    tree = OrgTree.of(departments.values())
    new_outlets = [outlet for outlet in tree.outlets() if not have_depts.get(outlet, {}).get("is_outlet")]
    joined = members_of_outlets(client, new_outlets)  # members of a department that just became an outlet

    def member_of(guide_id: str, stored: Record | None) -> Member | None:
        """The stored guide's member, unless the event replaced it, joined by the outlets read."""
        if guide_id in replaced:
            member = replaced[guide_id]
        elif stored is not None:
            member = Member(guide_id, stored["name"], tuple(stored.get("dept_ids", [])))
        else:
            member = None
        extra = joined.get(guide_id)
        if extra is not None:
            member = (
                Member(guide_id, member.name, tuple(sorted({*member.dept_ids, *extra.dept_ids})))
                if member is not None
                else extra
            )
        return member if member is not None and any(tree.is_outlet(d) for d in member.dept_ids) else None

    stored: Iterable[Record]
    if replaced and not joined:  # the tree is as stored: only the named guide can change
        one = repo.guide(corp_id, user_id)
        stored = [one] if one is not None else []
    else:
        stored = repo.guides_in_order(corp_id)
    written, removed = reconcile(
        repo,
        corp_id,
        list(departments.values()),
        have_depts,
        GuideChanges(replaced.keys() | joined.keys(), member_of, stored),
        now,
    )
    return f"change_contact {change_type}: {written} written, {removed} removed"
