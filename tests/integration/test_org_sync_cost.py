"""What organization changes cost in WeCom calls (SPEC §4.2): a ``change_contact`` event re-fetches
only what it names; a full sync reads members in ``user/list_id`` pages, not per outlet."""

from __future__ import annotations

from typing import Any
from unittest import mock

from tests.conftest import StackHandle
from tests.integration.test_org_tags_guides import _synced
from tests.integration.test_wecom_callback import _post

TOKEN = "/cgi-bin/gettoken"


def _deliver_to_the_stack(stack: StackHandle) -> None:
    """The sandbox's callbacks go straight to the real callback handler; the queue is then applied."""
    crypto = stack.wecom.crypto

    def deliver(message: str, times: int = 1) -> list[int]:
        statuses = []
        for _ in range(times):
            encrypt = crypto.encrypt(message)
            query = {"msg_signature": crypto.signature("1", "2", encrypt), "timestamp": "1", "nonce": "2"}
            body = f"<xml><ToUserName>ww-local-corp</ToUserName><Encrypt>{encrypt}</Encrypt></xml>"
            statuses.append(_post(stack, body, query)["statusCode"])
        return statuses

    stack.wecom.deliver = deliver  # type: ignore[method-assign]


def _calls_while(stack: StackHandle, change: Any) -> list[str]:
    """The WeCom API calls (tokens aside) made while ``change`` happens and its events are applied."""
    before = len(stack.wecom.calls)
    change()
    stack.process_queue()
    return [path for path in stack.wecom.calls[before:] if path != TOKEN]


def _stored(stack: StackHandle, kind: str) -> dict[str, dict[str, Any]]:
    key = "dept_id" if kind == "department" else "user_id"
    return {item[key]: item for item in stack.table_items() if item.get("kind") == kind}


def test_a_department_change_fetches_that_department_only(stack: StackHandle) -> None:
    _synced(stack)
    _deliver_to_the_stack(stack)
    calls = _calls_while(
        stack, lambda: stack.wecom.upsert_department({"id": 22, "name": "上海徐汇旗舰店", "parentid": 2})
    )
    assert calls == ["/cgi-bin/department/get"]
    assert _stored(stack, "department")["22"]["name"] == "上海徐汇旗舰店"


def test_thirty_department_changes_cost_thirty_calls_not_thirty_syncs(stack: StackHandle) -> None:
    _synced(stack)
    _deliver_to_the_stack(stack)

    def rename() -> None:
        for n in range(30):
            stack.wecom.upsert_department({"id": 31, "name": f"深圳南山店{n}", "parentid": 3})

    calls = _calls_while(stack, rename)
    assert calls == ["/cgi-bin/department/get"] * 30
    assert _stored(stack, "department")["31"]["name"] == "深圳南山店29"


def test_a_new_sub_department_reads_its_own_members_and_moves_the_outlet_down(stack: StackHandle) -> None:
    _synced(stack)
    _deliver_to_the_stack(stack)
    calls = _calls_while(
        stack, lambda: stack.wecom.upsert_department({"id": 221, "name": "徐汇一柜", "parentid": 22})
    )
    assert calls == ["/cgi-bin/department/get", "/cgi-bin/user/simplelist"]
    departments = _stored(stack, "department")
    assert departments["221"]["is_outlet"] and departments["221"]["path"] == ["1", "2", "22", "221"]
    assert not departments["22"]["is_outlet"]
    assert "wangqiang" not in _stored(stack, "guide")  # 22 is no longer an outlet


def test_a_member_change_fetches_that_member_only(stack: StackHandle) -> None:
    _synced(stack)
    _deliver_to_the_stack(stack)
    calls = _calls_while(
        stack, lambda: stack.wecom.upsert_user({"userid": "lifang", "name": "李芳", "department": [22]})
    )
    assert calls == ["/cgi-bin/user/get"]
    guide = _stored(stack, "guide")["lifang"]
    assert guide["outlet_ids"] == ["22"] and guide["dept_path"] == ["1", "2", "22"]
    assert _calls_while(stack, lambda: stack.wecom.delete_user({"userid": "lifang"})) == []
    assert "lifang" not in _stored(stack, "guide")


def test_a_deleted_department_costs_no_call(stack: StackHandle) -> None:
    _synced(stack)
    _deliver_to_the_stack(stack)
    stack.wecom.users.pop("wangqiang")  # WeCom deletes empty departments only
    assert _calls_while(stack, lambda: stack.wecom.delete_department({"id": 22})) == []
    assert "22" not in _stored(stack, "department")
    assert "wangqiang" not in _stored(stack, "guide")


def test_a_parent_left_without_sub_departments_becomes_an_outlet_with_its_members(stack: StackHandle) -> None:
    _synced(stack)
    _deliver_to_the_stack(stack)
    stack.wecom.users["chenjing"]["department"] = [3]
    calls = _calls_while(stack, lambda: stack.wecom.delete_department({"id": 31}))
    assert calls == ["/cgi-bin/user/simplelist"]  # dept 3's members: it just became an outlet
    assert _stored(stack, "department")["3"]["is_outlet"]
    assert _stored(stack, "guide")["chenjing"]["outlet_ids"] == ["3"]


def _many_outlets(stack: StackHandle, count: int) -> None:
    for n in range(count):
        stack.wecom.departments[1000 + n] = {"id": 1000 + n, "name": f"门店{n}", "parentid": 3, "order": 1}
        stack.wecom.users[f"guide-{n}"] = {
            "userid": f"guide-{n}",
            "name": f"导购{n}",
            "department": [1000 + n],
        }


def test_a_full_sync_reads_members_in_pages_not_per_outlet(stack: StackHandle) -> None:
    _many_outlets(stack, 120)
    calls = _calls_while(stack, lambda: _synced_count(stack, 123))
    assert calls == ["/cgi-bin/department/list", "/cgi-bin/user/list_id"]
    with mock.patch("incentives.org.sync.MEMBER_PAGE_SIZE", 50):
        stack.wecom.users["guide-0"]["department"] = [1001]
        calls = _calls_while(stack, lambda: _synced_count(stack, 123))
    pairs = sum(len(u["department"]) for u in stack.wecom.users.values())
    assert calls == ["/cgi-bin/department/list"] + ["/cgi-bin/user/list_id"] * -(-pairs // 50)
    assert _stored(stack, "guide")["guide-0"]["outlet_ids"] == ["1001"]


def test_a_full_sync_falls_back_to_outlets_when_list_id_is_not_granted(stack: StackHandle) -> None:
    _many_outlets(stack, 5)
    stack.wecom.faults.extend([0, 48002])  # department/list answers, user/list_id is refused
    calls = _calls_while(stack, lambda: _synced_count(stack, 8))
    assert calls.count("/cgi-bin/user/simplelist") == 8
    assert _stored(stack, "guide")["guide-4"]["outlet_ids"] == ["1004"]


def _synced_count(stack: StackHandle, outlets: int) -> None:
    status = stack.sync_org()
    assert status["state"] == "finished" and status["result"]["outlets"] == outlets, status
