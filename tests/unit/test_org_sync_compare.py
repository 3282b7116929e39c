"""The organization sync compares WeCom's members with the stored guides read page by page, never
holding every stored guide: what changed is still found, and only that is written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from incentives.core.clock import iso_utc
from incentives.org.ports import Record
from incentives.org.service import sync_organization
from incentives.storage.memory_table import MemoryTable
from incentives.storage.org import TableOrgRepository
from incentives.wecom.client import WeComApiError, WeComClient
from incentives.wecom.crypto import CallbackCrypto
from infra.local.sandboxes.wecom import WeComSandbox
from tests.support.org import StreamingOnly
from tests.support.wecom import sandbox_client

CORP = "ww-1"
FIRST = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)
NEXT = FIRST + timedelta(days=1)
LIST_ID_REFUSED = [0, 48002]
"""``department/list`` answers, ``user/list_id`` is refused: members are read per outlet, named."""


def _client(sandbox: WeComSandbox) -> WeComClient:
    return sandbox_client(sandbox, CORP, FIRST)


@pytest.fixture
def world() -> Iterator[tuple[WeComSandbox, StreamingOnly, WeComClient]]:
    sandbox = WeComSandbox(CORP, "app-secret", CallbackCrypto("t", "a" * 43, CORP), "http://127.0.0.1:9/cb")
    for n in range(7):  # with the default brand's 4 guides: several pages of 2 below
        sandbox.users[f"g{n}"] = {"userid": f"g{n}", "name": f"导购{n}", "department": [21 + n % 2]}
    repo = StreamingOnly(MemoryTable())
    with mock.patch("incentives.storage.org.GUIDE_PAGE", 2), mock.patch("incentives.org.sync.WRITE_BATCH", 3):
        yield sandbox, repo, _client(sandbox)


def _stored(repo: TableOrgRepository) -> dict[str, Record]:
    return TableOrgRepository.guides(repo, CORP)


def test_a_changed_name_department_and_a_removed_or_new_guide_are_found_and_nothing_else_written(
    world: tuple[WeComSandbox, StreamingOnly, WeComClient],
) -> None:
    sandbox, repo, client = world
    sandbox.faults.extend(LIST_ID_REFUSED)
    sync_organization(repo, client, FIRST)
    before = _stored(repo)
    assert len(before) == 11

    sandbox.users["g3"]["name"] = "导购三"  # a new name: WeCom names members per outlet
    sandbox.users["lifang"]["department"] = [31]  # moves to another outlet
    del sandbox.users["g5"]  # leaves
    sandbox.users["a-new"] = {"userid": "a-new", "name": "新人", "department": [22]}  # sorts first
    sandbox.users["zz-new"] = {"userid": "zz-new", "name": "新人二", "department": [31]}  # sorts last
    sandbox.faults.extend(LIST_ID_REFUSED)
    result = sync_organization(repo, client, NEXT)

    after = _stored(repo)
    assert (result.written, result.removed, result.guides) == (4, 1, 12)
    assert after["g3"]["name"] == "导购三"
    assert after["lifang"]["outlet_ids"] == ["31"] and after["lifang"]["dept_path"] == ["1", "3", "31"]
    assert "g5" not in after
    assert after["a-new"]["name"] == "新人" and after["zz-new"]["outlet_ids"] == ["31"]
    rewritten = {user for user, guide in after.items() if guide["synced_at"] == iso_utc(NEXT)}
    assert rewritten == {"g3", "lifang", "a-new", "zz-new"}
    assert all(after[user] == before[user] for user in after.keys() - rewritten)


def test_list_id_pages_keep_the_stored_names_and_find_a_move(
    world: tuple[WeComSandbox, StreamingOnly, WeComClient],
) -> None:
    sandbox, repo, client = world
    sandbox.faults.extend(LIST_ID_REFUSED)
    sync_organization(repo, client, FIRST)

    sandbox.users["g4"]["department"] = [22, 31]  # user/list_id pages: no names
    del sandbox.users["zhangwei"]
    result = sync_organization(repo, client, NEXT)

    after = _stored(repo)
    assert (result.written, result.removed) == (1, 1)
    assert after["g4"]["outlet_ids"] == ["22", "31"] and after["g4"]["name"] == "导购4"
    assert all(guide["name"] != guide["user_id"] for guide in after.values())
    assert "zhangwei" not in after


def test_a_member_listed_per_outlet_without_a_name_keeps_the_stored_name_or_is_named_by_userid(
    world: tuple[WeComSandbox, StreamingOnly, WeComClient],
) -> None:
    sandbox, repo, client = world
    sandbox.faults.extend(LIST_ID_REFUSED)
    sync_organization(repo, client, FIRST)

    sandbox.users["g3"]["name"] = None  # listed without its name: the stored name stays
    sandbox.users["g2"]["name"] = ""  # listed with an empty one: the same
    sandbox.users["nameless"] = {"userid": "nameless", "name": None, "department": [22]}
    sandbox.faults.extend(LIST_ID_REFUSED)
    result = sync_organization(repo, client, NEXT)

    after = _stored(repo)
    assert (result.written, result.removed) == (1, 0)
    assert after["g3"]["name"] == "导购3" and after["g2"]["name"] == "导购2"
    assert after["nameless"]["name"] == "nameless"


def test_the_welcome_message_is_kept_when_the_guide_is_rewritten_or_not(
    world: tuple[WeComSandbox, StreamingOnly, WeComClient],
) -> None:
    sandbox, repo, client = world
    sync_organization(repo, client, FIRST)
    repo.set_guide_welcome(CORP, "g2", "欢迎光临")
    repo.set_guide_welcome(CORP, "g6", "您好")

    sandbox.users["g2"]["department"] = [31]
    result = sync_organization(repo, client, NEXT)

    after = _stored(repo)
    assert result.written == 1
    assert after["g2"]["welcome_message"] == "欢迎光临" and after["g2"]["outlet_ids"] == ["31"]
    assert after["g6"]["welcome_message"] == "您好" and after["g6"]["synced_at"] == iso_utc(FIRST)


def test_a_wecom_failure_after_the_pages_began_leaves_the_stored_guides_as_they_were(
    world: tuple[WeComSandbox, StreamingOnly, WeComClient],
) -> None:
    sandbox, repo, client = world
    sync_organization(repo, client, FIRST)
    before = _stored(repo)
    sandbox.users["g1"]["department"] = [31]
    del sandbox.users["g0"]
    sandbox.faults.extend([0, 0, 60011])  # department/list, a first user/list_id page, then refused

    with (
        mock.patch("incentives.org.sync.MEMBER_PAGE_SIZE", 4),
        pytest.raises(WeComApiError, match="user/list_id: errcode 60011"),
    ):
        sync_organization(repo, client, NEXT)
    assert _stored(repo) == before
