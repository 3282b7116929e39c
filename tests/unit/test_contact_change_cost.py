"""A ``change_contact`` event costs what it names (decision 154): a member's event reads the
departments and that one guide; a department's event reads the stored guides page by page. Either
way the organization stored after it is what re-deriving the whole tenant gave."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from incentives.org.model import Department, Member, OrgTree
from incentives.org.ports import OrgRepository
from incentives.org.service import apply_contact_change, sync_organization
from incentives.org.sync import GuideChanges, departments_of, reconcile
from incentives.storage.memory_table import MemoryTable
from incentives.storage.org import TableOrgRepository
from incentives.storage.table import Item
from incentives.wecom.client import WeComApiError, WeComClient
from incentives.wecom.crypto import CallbackCrypto
from infra.local.sandboxes.wecom import WeComSandbox
from tests.support.org import ReadCountingTable, StreamingOnly
from tests.support.wecom import sandbox_client

CORP = "ww-1"
FIRST = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)
EVENT = FIRST + timedelta(hours=3)
PAGE = 2


def whole_tenant_change(
    repo: OrgRepository, client: WeComClient, change_type: str, user_id: str, party_id: str, now: datetime
) -> str:
    """The event as it was before decision 154: every stored guide and department loaded, the
    event applied to them, the whole tenant re-derived and compared (the expected result)."""
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
            [answer] = departments_of([client.department(party_id)])
            departments[answer.dept_id] = answer
        except WeComApiError:
            departments.pop(party_id, None)
    elif change_type == "delete_party" and party_id:
        departments.pop(party_id, None)
    elif change_type in ("create_user", "update_user") and user_id:
        try:
            user = client.member(user_id)
        except WeComApiError:
            members.pop(user_id, None)
        else:
            dept_ids = tuple(sorted(str(d) for d in user.get("department", [])))
            members[user_id] = Member(user_id, str(user.get("name") or user_id), dept_ids)
    elif change_type == "delete_user" and user_id:
        members.pop(user_id, None)
    else:
        return f"change_contact {change_type or '?'}: nothing named, nothing re-fetched"
    tree = OrgTree.of(departments.values())
    for outlet in tree.outlets():
        if not have_depts.get(outlet, {}).get("is_outlet"):
            for user in client.department_members(int(outlet)):
                known = members.get(user["userid"])
                joined = {*(known.dept_ids if known else ()), *(str(d) for d in user.get("department", []))}
                name = known.name if known else str(user.get("name") or user["userid"])
                members[user["userid"]] = Member(user["userid"], name, tuple(sorted(joined)))
    guides = {k: m for k, m in members.items() if any(tree.is_outlet(d) for d in m.dept_ids)}
    stored = [have_guides[user_id] for user_id in sorted(have_guides)]
    changes = GuideChanges(guides, lambda guide_id, _: guides.get(guide_id), stored)
    written, removed = reconcile(repo, corp_id, list(departments.values()), have_depts, changes, now)
    return f"change_contact {change_type}: {written} written, {removed} removed"


def _client(sandbox: WeComSandbox) -> WeComClient:
    return sandbox_client(sandbox, CORP, FIRST)


World = tuple[WeComSandbox, ReadCountingTable, StreamingOnly, WeComClient]


def _world(guides: int, synced: bool = True) -> World:
    """The default brand and ``guides`` more in outlets 21 and 22, synced (named), with welcome
    messages on two guides."""
    sandbox = WeComSandbox(CORP, "app-secret", CallbackCrypto("t", "a" * 43, CORP), "http://127.0.0.1:9/cb")
    for n in range(guides):
        sandbox.users[f"g{n:03d}"] = {"userid": f"g{n:03d}", "name": f"导购{n}", "department": [21 + n % 2]}
    table = ReadCountingTable()
    repo, client = StreamingOnly(table), _client(sandbox)
    if synced:
        sandbox.faults.extend([0, 48002])  # members per outlet: named
        sync_organization(repo, client, FIRST)
        repo.set_guide_welcome(CORP, "lifang", "欢迎光临")
        repo.set_guide_welcome(CORP, "chenjing", "您好")
    return sandbox, table, repo, client


def _organization(table: MemoryTable) -> dict[tuple[str, str], Item]:
    return {k: v for k, v in table.items.items() if v.get("kind") in ("department", "guide")}


Change = Callable[[WeComSandbox], tuple[str, str, str]]


def _create_user(s: WeComSandbox) -> tuple[str, str, str]:
    s.users["xinren"] = {"userid": "xinren", "name": "新人", "department": [22]}
    return "create_user", "xinren", ""


def _move_and_rename(s: WeComSandbox) -> tuple[str, str, str]:
    s.users["lifang"].update(name="李芳芳", department=[31, 22])
    return "update_user", "lifang", ""


def _leave_the_outlets(s: WeComSandbox) -> tuple[str, str, str]:
    s.users["zhangwei"]["department"] = [2]
    return "update_user", "zhangwei", ""


def _join_an_outlet(s: WeComSandbox) -> tuple[str, str, str]:
    s.users["ops-li"]["department"] = [2, 21]
    return "update_user", "ops-li", ""


def _unknown_member(s: WeComSandbox) -> tuple[str, str, str]:
    del s.users["wangqiang"]
    return "update_user", "wangqiang", ""


def _delete_user(s: WeComSandbox) -> tuple[str, str, str]:
    del s.users["chenjing"]
    return "delete_user", "chenjing", ""


def _create_party(s: WeComSandbox) -> tuple[str, str, str]:
    s.departments[221] = {"id": 221, "name": "徐汇一柜", "parentid": 22, "order": 1}
    s.users["g001"].update(name="导购一", department=[221])  # the stored name is kept
    s.users["guicang"] = {"userid": "guicang", "name": "柜长", "department": [221, 31]}
    return "create_party", "", "221"


def _rename_party(s: WeComSandbox) -> tuple[str, str, str]:
    s.departments[22]["name"] = "上海徐汇旗舰店"
    return "update_party", "", "22"


def _move_party(s: WeComSandbox) -> tuple[str, str, str]:
    s.departments[31]["parentid"] = 2
    return "update_party", "", "31"


def _unknown_party(s: WeComSandbox) -> tuple[str, str, str]:
    return "update_party", "", "404"


def _delete_party(s: WeComSandbox) -> tuple[str, str, str]:
    s.users["chenjing"]["department"] = [3]
    del s.departments[31]
    return "delete_party", "", "31"


def _nothing_named(s: WeComSandbox) -> tuple[str, str, str]:
    return "update_user", "", ""


USER_CHANGES: list[Change] = [
    _create_user,
    _move_and_rename,
    _leave_the_outlets,
    _join_an_outlet,
    _unknown_member,
    _delete_user,
]
PARTY_CHANGES: list[Change] = [_create_party, _rename_party, _move_party, _unknown_party, _delete_party]


@pytest.fixture(autouse=True)
def _small_pages() -> Iterator[None]:
    with (
        mock.patch("incentives.storage.org.GUIDE_PAGE", PAGE),
        mock.patch("incentives.org.sync.WRITE_BATCH", 3),
    ):
        yield


@pytest.mark.parametrize("change", [*USER_CHANGES, *PARTY_CHANGES, _nothing_named], ids=lambda c: c.__name__)
@pytest.mark.parametrize("synced", [True, False], ids=["synced", "first"])
def test_every_event_stores_what_re_deriving_the_whole_tenant_stored(change: Change, synced: bool) -> None:
    sandbox, table, repo, client = _world(7, synced)
    expected_sandbox, expected_table, _, expected_client = _world(7, synced)
    event = change(sandbox)
    assert change(expected_sandbox) == event

    detail = apply_contact_change(repo, client, *event, EVENT)

    expected = whole_tenant_change(TableOrgRepository(expected_table), expected_client, *event, EVENT)
    assert detail == expected
    assert _organization(table) == _organization(expected_table)
    assert synced or "organization synced" in detail


def test_the_events_change_what_they_name() -> None:
    """The comparison above is only as good as the events doing something: they do."""
    for change, changed in [
        (_move_and_rename, "1 written, 0 removed"),
        (_delete_party, "2 written, 1 removed"),
    ]:
        sandbox, table, repo, client = _world(7)
        before = _organization(table)
        assert apply_contact_change(repo, client, *change(sandbox), EVENT).endswith(changed)
        assert _organization(table) != before


@pytest.mark.parametrize("change", USER_CHANGES, ids=lambda c: c.__name__)
def test_a_member_event_reads_one_stored_guide_whatever_the_tenant_holds(change: Change) -> None:
    for guides in (7, 70):
        sandbox, table, repo, client = _world(guides)
        table.guides_read = 0
        apply_contact_change(repo, client, *change(sandbox), EVENT)
        assert table.guides_read <= 1, (guides, table.guides_read)
    assert table.guides_read == (0 if change in (_create_user, _join_an_outlet) else 1)


@pytest.mark.parametrize("change", PARTY_CHANGES, ids=lambda c: c.__name__)
def test_a_department_event_reads_the_stored_guides_a_page_at_a_time(change: Change) -> None:
    sandbox, table, repo, client = _world(70)
    table.reset()
    apply_contact_change(repo, client, *change(sandbox), EVENT)  # StreamingOnly: never all at once
    assert table.guides_read >= 70 and table.largest_answer == PAGE


def test_a_member_event_without_the_members_name_keeps_the_stored_name() -> None:
    """WeCom leaves ``name`` out where the app may not see it: the move is stored, the name kept
    (as the full sync does, decision 160), not replaced by the userid."""
    sandbox, _, repo, client = _world(7)
    before = repo.guide(CORP, "lifang")
    assert before is not None and before["name"] != "lifang"
    sandbox.users["lifang"].update(name=None, department=[31, 22])
    apply_contact_change(repo, client, "update_user", "lifang", "", EVENT)
    after = repo.guide(CORP, "lifang")
    assert after is not None and after["name"] == before["name"]
    assert sorted(after["outlet_ids"]) == ["22", "31"]
