"""Seed 002 through the admin and guide APIs, with the WeCom sandbox: org, scopes, tags, permissions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import StackHandle
from tests.support import token_for

ADMIN, GUIDE = "AdminApiFunction", "GuideApiFunction"


def _call(
    stack: StackHandle, function: str, method: str, resource: str, token: str, **kwargs: Any
) -> tuple[int, Any]:
    return stack.api(function, method, resource, token, **kwargs)


def _admin() -> str:
    return token_for("admin")


def _synced(stack: StackHandle) -> None:
    result = stack.sync_org()
    assert result["state"] == "finished" and result["result"]["outlets"] == 3, result


def _contact_way(stack: StackHandle, outlet_id: str, welcome_message: str | None = None) -> dict[str, Any]:
    """The outlet's Contact-Me code, created by an admin through the API."""
    status, way = _call(
        stack,
        ADMIN,
        "POST",
        "/admin/outlets/{outlet_id}/contact-way",
        _admin(),
        path_parameters={"outlet_id": outlet_id},
        json={"welcome_message": welcome_message},
    )
    assert status == 200, way
    return dict(way)


def _scan(stack: StackHandle, config_id: str, unionid: str, userid: str | None = None) -> None:
    """A customer scans the code; the callback goes straight to the real handler and processor."""
    from tests.integration.test_wecom_callback import _post

    def deliver(message: str, times: int = 1) -> list[int]:
        crypto = stack.wecom.crypto
        statuses = []
        for _ in range(times):
            encrypt = crypto.encrypt(message)
            query = {"msg_signature": crypto.signature("1", "2", encrypt), "timestamp": "1", "nonce": "2"}
            body = f"<xml><ToUserName>ww-local-corp</ToUserName><Encrypt>{encrypt}</Encrypt></xml>"
            statuses.append(_post(stack, body, query)["statusCode"])
        return statuses

    stack.wecom.deliver = deliver  # type: ignore[method-assign]
    stack.wecom.scan({"config_id": config_id, "unionid": unionid, "userid": userid, "deliveries": 3})
    stack.process_queue()


def test_a_second_sync_writes_nothing(stack: StackHandle) -> None:
    _synced(stack)
    assert stack.sync_org()["result"]["written"] == 0


def test_only_admins_sync(stack: StackHandle) -> None:
    assert stack.status(ADMIN, "POST", "/admin/org/sync", token_for("operator", dept_ids=("1",))) == 403


def test_operators_get_nothing_from_another_subtree_through_any_admin_endpoint(stack: StackHandle) -> None:
    _synced(stack)
    south = token_for("operator", "ops-south", dept_ids=("3",))
    _, outlets = _call(stack, ADMIN, "GET", "/admin/outlets", south)
    assert sorted(o["outlet_id"] for o in outlets) == ["31"]
    assert (
        stack.status(
            ADMIN,
            "POST",
            "/admin/outlets/{outlet_id}/contact-way",
            south,
            path_parameters={"outlet_id": "21"},
            json={"welcome_message": "x"},
        )
        == 404
    )
    assert (
        stack.status(
            ADMIN,
            "PUT",
            "/admin/guides/{user_id}/welcome-message",
            south,
            path_parameters={"user_id": "zhangwei"},
            json={"text": "x"},
        )
        == 404
    )
    assert (
        stack.status(
            ADMIN,
            "PUT",
            "/admin/guides/{user_id}/welcome-message",
            south,
            path_parameters={"user_id": "chenjing"},
            json={"text": "您好"},
        )
        == 200
    )
    assert _call(stack, ADMIN, "GET", "/admin/outlets", south, query={"subtree": ["2"]})[1] == []


def test_a_scan_binds_the_customer_once_and_welcomes_once(stack: StackHandle) -> None:
    _synced(stack)
    way = _contact_way(stack, "21", "欢迎光临")
    _scan(stack, way["config_id"], "oUnion-A")
    assert [m["text"] for m in stack.wecom.welcome_sent] == ["欢迎光临"]
    _, outlets = _call(stack, ADMIN, "GET", "/admin/outlets", _admin())
    assert {o["outlet_id"]: o["customer_count"] for o in outlets}["21"] == 1
    _, tree = _call(stack, ADMIN, "GET", "/admin/org/tree", _admin())
    counts = {d["dept_id"]: d["customer_count"] for d in tree}  # the outlet, its company, the brand
    assert (counts["21"], counts["2"], counts["1"], counts["22"]) == (1, 1, 1, 0), counts


def test_without_a_qr_message_the_guides_default_welcome_is_sent(stack: StackHandle) -> None:
    _synced(stack)
    _call(
        stack,
        ADMIN,
        "PUT",
        "/admin/guides/{user_id}/welcome-message",
        _admin(),
        path_parameters={"user_id": "zhangwei"},
        json={"text": "我是张伟"},
    )
    way = _contact_way(stack, "21")
    _scan(stack, way["config_id"], "oUnion-B", userid="zhangwei")
    assert [m["text"] for m in stack.wecom.welcome_sent] == ["我是张伟"]


def test_a_guide_sees_only_their_own_customers_within_the_permissions(stack: StackHandle) -> None:
    _synced(stack)
    way = _contact_way(stack, "21")
    _scan(stack, way["config_id"], "oUnion-C", userid="zhangwei")
    zhang, li = token_for("guide", "zhangwei"), token_for("guide", "lifang")
    status, detail = _call(
        stack,
        GUIDE,
        "GET",
        "/guide/customers/{customer_id}",
        zhang,
        path_parameters={"customer_id": "oUnion-C"},
    )
    assert status == 200 and set(detail) == {"customer_id", "outlet_id", "attached_at", "guide_id"}
    assert (
        stack.status(
            GUIDE, "GET", "/guide/customers/{customer_id}", li, path_parameters={"customer_id": "oUnion-C"}
        )
        == 404
    )
    assert _call(stack, GUIDE, "GET", "/guide/customers", li)[1] == []
    assert [c["customer_id"] for c in _call(stack, GUIDE, "GET", "/guide/customers", zhang)[1]] == [
        "oUnion-C"
    ]
    assert stack.status(GUIDE, "GET", "/guide/customers", _admin()) == 403

    status, _ = _call(
        stack,
        ADMIN,
        "PUT",
        "/admin/guide-permissions",
        _admin(),
        json={
            "display_enabled": True,
            "attributes": {
                "name": {"visible": True},
                "remark": {"visible": True, "editable": True},
                "mobile": {"visible": True},
            },
        },
    )
    assert status == 200
    assert (
        _call(
            stack,
            GUIDE,
            "PATCH",
            "/guide/customers/{customer_id}",
            zhang,
            path_parameters={"customer_id": "oUnion-C"},
            json={"remark": "喜欢户外"},
        )[1]["remark"]
        == "喜欢户外"
    )
    for forbidden in ({"mobile": "13800138000"}, {"outlet_id": "22"}, {"guide_id": "lifang"}):
        assert (
            stack.status(
                GUIDE,
                "PATCH",
                "/guide/customers/{customer_id}",
                zhang,
                path_parameters={"customer_id": "oUnion-C"},
                json=forbidden,
            )
            == 403
        )
    bad = _call(
        stack,
        ADMIN,
        "PUT",
        "/admin/guide-permissions",
        _admin(),
        json={"display_enabled": True, "attributes": {"mobile": {"visible": False, "editable": True}}},
    )
    assert bad[0] == 400 and bad[1]["error"]["field"] == "attributes.mobile"


def test_tags_push_to_wecom_at_once_and_guides_mark_visible_ones(stack: StackHandle) -> None:
    _synced(stack)
    status, created = _call(
        stack,
        ADMIN,
        "POST",
        "/admin/tag-groups",
        _admin(),
        json={"name": "会员等级", "tags": ["金卡", "钻石卡", "金卡"]},
    )
    assert status == 200 and [t["name"] for t in created] == ["金卡", "钻石卡"]
    [group] = stack.wecom.tag_groups.values()
    assert [t["name"] for t in group["tag"]] == ["金卡", "钻石卡"]
    gold = next(t for t in created if t["name"] == "金卡")
    renamed = _call(
        stack,
        ADMIN,
        "PATCH",
        "/admin/tags/{tag_id}",
        _admin(),
        path_parameters={"tag_id": gold["tag_id"]},
        json={"name": "黄金卡"},
    )[1]
    assert renamed["name"] == "黄金卡"
    assert "黄金卡" in [t["name"] for g in stack.wecom.tag_groups.values() for t in g["tag"]]
    hidden = _call(
        stack,
        ADMIN,
        "PATCH",
        "/admin/tags/{tag_id}",
        _admin(),
        path_parameters={"tag_id": gold["tag_id"]},
        json={"visible": False},
    )[1]
    assert hidden["visible"] is False and "黄金卡" not in [
        t["name"] for g in stack.wecom.tag_groups.values() for t in g["tag"]
    ]
    zhang = token_for("guide", "zhangwei")
    assert [t["name"] for t in _call(stack, GUIDE, "GET", "/guide/tags", zhang)[1]] == ["钻石卡"]
    way = _contact_way(stack, "21")
    _scan(stack, way["config_id"], "oUnion-D", userid="zhangwei")
    diamond = next(t for t in created if t["name"] == "钻石卡")
    status, marked = _call(
        stack,
        GUIDE,
        "POST",
        "/guide/customers/{customer_id}/tags",
        zhang,
        path_parameters={"customer_id": "oUnion-D"},
        json={"add": [diamond["tag_id"]]},
    )
    assert status == 200 and marked["tag_ids"] == [diamond["tag_id"]]
    follow = next(iter(stack.wecom.contacts.values()))["follow_user"][0]
    assert follow["tag_ids"] == [diamond["wecom_tag_id"]]
    assert (
        stack.status(
            GUIDE,
            "POST",
            "/guide/customers/{customer_id}/tags",
            zhang,
            path_parameters={"customer_id": "oUnion-D"},
            json={"add": [gold["tag_id"]]},
        )
        == 403
    )
    assert (
        stack.status(
            GUIDE,
            "POST",
            "/guide/customers/{customer_id}/tags",
            token_for("guide", "lifang"),
            path_parameters={"customer_id": "oUnion-D"},
            json={"add": [diamond["tag_id"]]},
        )
        == 404
    )


def test_the_wecom_import_follows_seed_002(stack: StackHandle) -> None:
    _call(
        stack,
        ADMIN,
        "POST",
        "/admin/tag-groups",
        _admin(),
        json={"name": "兴趣", "tags": ["户外"], "visible": False},
    )
    wecom = stack.wecom
    for body in (
        {"group_name": "兴趣", "tag": [{"name": "美妆"}]},
        {"group_name": "偏好", "tag": [{"name": "美妆"}, {"name": "夜跑"}]},
    ):
        wecom._add_corp_tag({}, body)
    wecom.tag_groups["empty"] = {"group_id": "empty", "group_name": "空组", "tag": []}
    status, result = _call(stack, ADMIN, "POST", "/admin/tags/import", _admin())
    assert status == 200 and result["groups_created"] == 1 and result["tags_created"] == 2
    _, tags = _call(stack, ADMIN, "GET", "/admin/tags", _admin())
    assert sorted((t["group_name"], t["name"]) for t in tags) == [
        ("偏好", "夜跑"),
        ("兴趣", "户外"),
        ("兴趣", "美妆"),
    ]
    calls_before = len(wecom.calls)
    assert _call(stack, ADMIN, "POST", "/admin/tags/import", _admin())[1]["tags_created"] == 0
    assert all(
        path.endswith("get_corp_tag_list") or path.endswith("gettoken") for path in wecom.calls[calls_before:]
    )


@pytest.mark.parametrize("role", ["guide", "affiliate"])
def test_guides_and_affiliates_cannot_use_the_org_console(stack: StackHandle, role: str) -> None:
    assert stack.status(ADMIN, "GET", "/admin/outlets", token_for(role)) == 403
    assert stack.status(ADMIN, "GET", "/admin/tags", token_for(role)) == 403


def test_data_nodes_make_removed_operators_read_only_and_multi_node_operators_choose(
    stack: StackHandle,
) -> None:
    _synced(stack)
    assert (
        _call(
            stack,
            ADMIN,
            "PUT",
            "/admin/org/levels",
            _admin(),
            json={"level_name": "零售公司", "node_dept_ids": ["99"]},
        )[1]["error"]["field"]
        == "node_dept_ids"
    )
    status, levels = _call(
        stack,
        ADMIN,
        "PUT",
        "/admin/org/levels",
        _admin(),
        json={"level_name": "零售公司", "node_dept_ids": ["2", "3"]},
    )
    assert status == 200 and levels["level_name"] == "零售公司"
    east = token_for("operator", "ops-east", dept_ids=("2",))
    both = token_for("operator", "ops-both", dept_ids=("2", "3"))
    welcome = {"path_parameters": {"user_id": "zhangwei"}}
    assert (
        stack.status(
            ADMIN, "PUT", "/admin/guides/{user_id}/welcome-message", east, json={"text": "您好"}, **welcome
        )
        == 200
    )
    named = _call(
        stack, ADMIN, "PUT", "/admin/guides/{user_id}/welcome-message", both, json={"text": "您好"}, **welcome
    )
    assert named[0] == 400 and named[1]["error"]["field"] == "data_node"
    assert (
        stack.status(
            ADMIN,
            "PUT",
            "/admin/guides/{user_id}/welcome-message",
            both,
            json={"text": "您好", "data_node": "2"},
            **welcome,
        )
        == 200
    )
    assert (
        stack.status(
            ADMIN,
            "PUT",
            "/admin/guides/{user_id}/welcome-message",
            both,
            json={"text": "您好", "data_node": "3"},
            **welcome,
        )
        == 403
    )
    _call(
        stack,
        ADMIN,
        "PUT",
        "/admin/org/levels",
        _admin(),
        json={"level_name": "零售公司", "node_dept_ids": ["3"]},
    )
    assert (
        stack.status(
            ADMIN, "PUT", "/admin/guides/{user_id}/welcome-message", east, json={"text": "您好"}, **welcome
        )
        == 403
    )  # node removed: read-only
    assert [o["outlet_id"] for o in _call(stack, ADMIN, "GET", "/admin/outlets", east)[1]] == ["21", "22"]


def test_a_customer_deleted_and_re_added_is_a_returning_customer(stack: StackHandle) -> None:
    from tests.integration.test_wecom_callback import _event_xml, _post, _signed_post

    _synced(stack)
    way = _contact_way(stack, "21")
    _scan(stack, way["config_id"], "oUnion-R", userid="zhangwei")
    external = next(iter(stack.wecom.contacts))
    body, query = _signed_post(_event_xml("del_follow_user", "zhangwei", external))
    assert _post(stack, body, query)["body"] == "success"
    stack.process_queue()
    [customer] = [i for i in stack.table_items() if i["kind"] == "customer"]
    assert customer["relation"] == "deleted_by_customer"

    stack.wecom.scan({"config_id": way["config_id"], "unionid": "oUnion-R", "userid": "lifang"})
    stack.feed("EventProcessorFunction", "EventsQueue")  # the callback only
    acquired = [json.loads(m["Body"])["event"] for m in stack.drain()]
    assert [(e["type"], e["data"]["new_customer"], e["data"]["guide_id"]) for e in acquired] == [
        ("guide.customer_acquired", False, "lifang")
    ]
    [customer] = [i for i in stack.table_items() if i["kind"] == "customer"]
    assert (customer["guide_id"], customer["first_guide_id"], customer["relation"]) == (
        "lifang",
        "zhangwei",
        "active",
    )


def test_a_segment_is_or_within_a_group_and_and_across_groups_in_scope(stack: StackHandle) -> None:
    _synced(stack)
    _, level = _call(
        stack, ADMIN, "POST", "/admin/tag-groups", _admin(), json={"name": "等级", "tags": ["金卡", "银卡"]}
    )
    _, hobby = _call(
        stack, ADMIN, "POST", "/admin/tag-groups", _admin(), json={"name": "兴趣", "tags": ["户外"]}
    )
    gold, silver, outdoor = level[0]["tag_id"], level[1]["tag_id"], hobby[0]["tag_id"]
    way = _contact_way(stack, "21")
    zhang = token_for("guide", "zhangwei")
    for unionid, tags in (("oA", [gold, outdoor]), ("oB", [silver, outdoor]), ("oC", [gold])):
        _scan(stack, way["config_id"], unionid, userid="zhangwei")
        _call(
            stack,
            GUIDE,
            "POST",
            "/guide/customers/{customer_id}/tags",
            zhang,
            path_parameters={"customer_id": unionid},
            json={"add": tags},
        )
    members = _call(
        stack, ADMIN, "POST", "/admin/customers/segment", _admin(), json={"tag_ids": [gold, silver, outdoor]}
    )[1]
    assert [m["customer_id"] for m in members] == ["oA", "oB"]
    assert [
        m["customer_id"]
        for m in _call(stack, ADMIN, "POST", "/admin/customers/segment", _admin(), json={"tag_ids": [gold]})[
            1
        ]
    ] == ["oA", "oC"]
    south = token_for("operator", "ops-south", dept_ids=("3",))
    assert _call(stack, ADMIN, "POST", "/admin/customers/segment", south, json={"tag_ids": [gold]})[1] == []
    assert (
        _call(stack, ADMIN, "POST", "/admin/customers/segment", _admin(), json={"tag_ids": ["nope"]})[1][
            "error"
        ]["field"]
        == "tag_ids"
    )


def _customer_counts(stack: StackHandle) -> dict[str, int]:
    _, outlets = _call(stack, ADMIN, "GET", "/admin/outlets", _admin())
    return {o["outlet_id"]: o["customer_count"] for o in outlets}


def _end_relation(stack: StackHandle, change_type: str, guide: str, unionid: str, created: int) -> None:
    from tests.integration.test_wecom_callback import _event_xml, _post, _signed_post

    external = next(e for e, c in stack.wecom.contacts.items() if c["external_contact"]["unionid"] == unionid)
    body, query = _signed_post(_event_xml(change_type, guide, external, created))
    assert _post(stack, body, query)["body"] == "success"
    stack.process_queue()


def test_an_outlet_counts_the_customers_bound_to_it_through_moves_deletions_re_adds_and_re_syncs(
    stack: StackHandle,
) -> None:
    _synced(stack)
    east, west = _contact_way(stack, "21"), _contact_way(stack, "22")
    _scan(stack, east["config_id"], "oUnion-M", userid="zhangwei")  # delivered three times
    _scan(stack, east["config_id"], "oUnion-N", userid="lifang")
    assert _customer_counts(stack) == {"21": 2, "22": 0, "31": 0}
    _scan(stack, west["config_id"], "oUnion-M", userid="wangqiang")  # moves to 22
    assert _customer_counts(stack) == {"21": 1, "22": 1, "31": 0}
    _end_relation(stack, "del_external_contact", "zhangwei", "oUnion-M", 1764000001)  # a former guide
    assert _customer_counts(stack) == {"21": 1, "22": 1, "31": 0}
    _end_relation(stack, "del_follow_user", "wangqiang", "oUnion-M", 1764000002)
    _end_relation(stack, "del_follow_user", "lifang", "oUnion-N", 1764000003)
    assert _customer_counts(stack) == {"21": 0, "22": 0, "31": 0}
    _end_relation(stack, "del_follow_user", "lifang", "oUnion-N", 1764000004)  # deleted twice
    assert _customer_counts(stack) == {"21": 0, "22": 0, "31": 0}
    _scan(stack, west["config_id"], "oUnion-M", userid="wangqiang")  # re-added
    assert _customer_counts(stack) == {"21": 0, "22": 1, "31": 0}
    stack.wecom.departments[22]["name"] = "西门店（新）"
    synced = stack.sync_org(_admin())
    assert synced["state"] == "finished" and synced["result"]["written"] == 1, synced
    _synced(stack)
    assert _customer_counts(stack) == {"21": 0, "22": 1, "31": 0}
    bound = [i for i in stack.table_items() if i["kind"] == "customer" and i["relation"] == "active"]
    assert [(c["customer_id"], c["outlet_id"]) for c in bound] == [("oUnion-M", "22")]


def _group(stack: StackHandle, name: str, tags: list[str]) -> dict[str, str]:
    """A visible tag group through the console: tag name → tag id (and ``group`` → its id)."""
    status, created = _call(
        stack, ADMIN, "POST", "/admin/tag-groups", _admin(), json={"name": name, "tags": tags}
    )
    assert status == 200, created
    return {"group": created[0]["group_id"], **{t["name"]: t["tag_id"] for t in created}}


def _patch(stack: StackHandle, resource: str, ids: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
    return _call(stack, ADMIN, "PATCH", resource, _admin(), path_parameters=ids, json=body)


def _wecom_library(stack: StackHandle) -> dict[str, list[str]]:
    return {g["group_name"]: sorted(t["name"] for t in g["tag"]) for g in stack.wecom.tag_groups.values()}


def test_a_hidden_tag_or_group_leaves_the_guides_customer_views_and_shows_again_once_visible(
    stack: StackHandle,
) -> None:
    _synced(stack)
    level, hobby = _group(stack, "等级", ["金卡", "银卡"]), _group(stack, "兴趣", ["户外"])
    assert (
        _call(
            stack,
            ADMIN,
            "PUT",
            "/admin/guide-permissions",
            _admin(),
            json={"display_enabled": True, "attributes": {"tags": {"visible": True}}},
        )[0]
        == 200
    )
    way = _contact_way(stack, "21")
    _scan(stack, way["config_id"], "oUnion-H", userid="zhangwei")
    zhang = token_for("guide", "zhangwei")
    customer = {"customer_id": "oUnion-H"}
    tagged = _call(
        stack,
        GUIDE,
        "POST",
        "/guide/customers/{customer_id}/tags",
        zhang,
        path_parameters=customer,
        json={"add": [level["金卡"], hobby["户外"]]},
    )[1]
    assert set(tagged["tag_ids"]) == {level["金卡"], hobby["户外"]}

    def seen() -> tuple[set[str], set[str], set[str]]:
        one = _call(stack, GUIDE, "GET", "/guide/customers/{customer_id}", zhang, path_parameters=customer)[1]
        [listed] = _call(stack, GUIDE, "GET", "/guide/customers", zhang)[1]
        tags = {t["tag_id"] for t in _call(stack, GUIDE, "GET", "/guide/tags", zhang)[1]}
        return set(one["tag_ids"]), set(listed["tag_ids"]), tags

    assert seen() == ({level["金卡"], hobby["户外"]},) * 2 + ({level["金卡"], level["银卡"], hobby["户外"]},)
    assert _patch(stack, "/admin/tags/{tag_id}", {"tag_id": level["金卡"]}, {"visible": False})[0] == 200
    assert seen() == ({hobby["户外"]},) * 2 + ({level["银卡"], hobby["户外"]},)
    status, group = _patch(
        stack, "/admin/tag-groups/{group_id}", {"group_id": hobby["group"]}, {"visible": False}
    )
    assert status == 200 and group["visible"] is False and group["wecom_group_id"] is None
    assert seen() == (set(), set(), {level["银卡"]})
    assert _wecom_library(stack) == {"等级": ["银卡"]}
    silver = _call(
        stack,
        GUIDE,
        "POST",
        "/guide/customers/{customer_id}/tags",
        zhang,
        path_parameters=customer,
        json={"add": [level["银卡"]]},
    )[1]
    assert silver["tag_ids"] == [level["银卡"]]  # the hidden relations are not shown, but kept:
    [stored_customer] = [i for i in stack.table_items() if i["kind"] == "customer"]
    assert set(stored_customer["tag_ids"]) == {level["金卡"], level["银卡"], hobby["户外"]}
    assert (
        stack.status(
            GUIDE,
            "POST",
            "/guide/customers/{customer_id}/tags",
            zhang,
            path_parameters=customer,
            json={"remove": [hobby["户外"]]},
        )
        == 403
    )

    assert _patch(stack, "/admin/tags/{tag_id}", {"tag_id": level["金卡"]}, {"visible": True})[0] == 200
    status, group = _patch(
        stack, "/admin/tag-groups/{group_id}", {"group_id": hobby["group"]}, {"visible": True}
    )
    assert status == 200 and group["visible"] is True and group["wecom_group_id"]
    everything = {level["金卡"], level["银卡"], hobby["户外"]}
    assert seen() == (everything, everything, everything)
    assert _wecom_library(stack) == {"等级": ["金卡", "银卡"], "兴趣": ["户外"]}


def test_re_enabling_the_last_tag_of_a_group_recreates_the_group_wecom_deleted_with_it(
    stack: StackHandle,
) -> None:
    hobby = _group(stack, "兴趣", ["户外"])
    outdoor = {"tag_id": hobby["户外"]}
    assert _patch(stack, "/admin/tags/{tag_id}", outdoor, {"visible": False})[0] == 200
    assert stack.wecom.tag_groups == {}  # WeCom deleted the group with its last tag
    status, shown = _patch(stack, "/admin/tags/{tag_id}", outdoor, {"visible": True})
    assert status == 200, shown
    [group] = stack.wecom.tag_groups.values()
    assert group["group_name"] == "兴趣" and [t["id"] for t in group["tag"]] == [shown["wecom_tag_id"]]
    status, renamed = _patch(
        stack, "/admin/tag-groups/{group_id}", {"group_id": hobby["group"]}, {"name": "爱好"}
    )
    assert status == 200 and renamed["wecom_group_id"] == group["group_id"]
    assert group["group_name"] == "爱好"  # the stored id is the live one


def test_group_operations_reach_wecom_at_once_and_wecom_errors_change_nothing(stack: StackHandle) -> None:
    level = _group(stack, "等级", ["金卡"])
    ids = {"group_id": level["group"]}
    [wecom_group_id] = stack.wecom.tag_groups
    status, group = _call(
        stack,
        ADMIN,
        "POST",
        "/admin/tag-groups/{group_id}/tags",
        _admin(),
        path_parameters=ids,
        json={"tags": ["银卡", " 钻石卡 ", "银卡"]},
    )
    assert status == 200 and [t["name"] for t in group["tags"]] == ["金卡", "钻石卡", "银卡"]
    assert list(stack.wecom.tag_groups) == [wecom_group_id]  # added to the same WeCom group
    assert _wecom_library(stack) == {"等级": ["金卡", "钻石卡", "银卡"]}
    hidden_one = _call(
        stack,
        ADMIN,
        "POST",
        "/admin/tag-groups/{group_id}/tags",
        _admin(),
        path_parameters=ids,
        json={"tags": ["铜卡"], "visible": False},
    )[1]
    assert [t["name"] for t in hidden_one["tags"] if not t["visible"]] == ["铜卡"]
    assert _wecom_library(stack) == {"等级": ["金卡", "钻石卡", "银卡"]}

    assert _patch(stack, "/admin/tag-groups/{group_id}", ids, {"name": "会员等级"})[1]["name"] == "会员等级"
    assert _wecom_library(stack) == {"会员等级": ["金卡", "钻石卡", "银卡"]}
    assert _patch(stack, "/admin/tag-groups/{group_id}", ids, {"visible": False})[0] == 200
    assert _wecom_library(stack) == {}
    status, shown = _patch(stack, "/admin/tag-groups/{group_id}", ids, {"visible": True})
    assert status == 200 and _wecom_library(stack) == {"会员等级": ["金卡", "钻石卡", "银卡"]}
    in_wecom = {t["name"]: t["wecom_tag_id"] is not None for t in shown["tags"]}
    assert in_wecom == {"金卡": True, "钻石卡": True, "银卡": True, "铜卡": False}  # 铜卡 stays hidden

    # bad input: 4xx naming the field, nothing changed
    for body, field, code in (
        ({"tags": ["金卡"]}, "tags", 409),
        ({"tags": [" "]}, "tags", 400),
        ({"tags": []}, "tags", 400),
    ):
        status, answer = _call(
            stack,
            ADMIN,
            "POST",
            "/admin/tag-groups/{group_id}/tags",
            _admin(),
            path_parameters=ids,
            json=body,
        )
        assert status == code and field in answer["error"]["field"], answer
    _group(stack, "兴趣", ["户外"])
    status, answer = _patch(stack, "/admin/tag-groups/{group_id}", ids, {"name": "兴趣"})
    assert status == 409 and answer["error"]["field"] == "name"
    assert (
        stack.status(
            ADMIN, "DELETE", "/admin/tag-groups/{group_id}", _admin(), path_parameters={"group_id": "tg-no"}
        )
        == 404
    )

    stack.wecom.faults.append(48002)
    status, answer = _patch(stack, "/admin/tag-groups/{group_id}", ids, {"name": "等级"})
    assert status == 502 and answer["error"]["code"] == "wecom_error", answer
    assert _call(stack, ADMIN, "GET", "/admin/tags", _admin())[1][0]["group_name"] == "会员等级"

    assert stack.status(ADMIN, "DELETE", "/admin/tag-groups/{group_id}", _admin(), path_parameters=ids) == 200
    assert _wecom_library(stack) == {"兴趣": ["户外"]}
    assert [t["group_name"] for t in _call(stack, ADMIN, "GET", "/admin/tags", _admin())[1]] == ["兴趣"]
    operator = token_for("operator", dept_ids=("1",))
    assert (
        stack.status(ADMIN, "PATCH", "/admin/tag-groups/{group_id}", operator, path_parameters=ids, json={})
        == 403
    )


def test_a_renamed_group_or_tag_leaves_its_old_name_free_for_a_new_one(stack: StackHandle) -> None:
    level = _group(stack, "等级", ["金卡"])
    assert (
        _patch(stack, "/admin/tag-groups/{group_id}", {"group_id": level["group"]}, {"name": "旧等级"})[0]
        == 200
    )
    assert _patch(stack, "/admin/tags/{tag_id}", {"tag_id": level["金卡"]}, {"name": "旧金卡"})[0] == 200
    again = _group(stack, "等级", ["银卡"])
    assert again["group"] != level["group"]
    status, group = _call(
        stack,
        ADMIN,
        "POST",
        "/admin/tag-groups/{group_id}/tags",
        _admin(),
        path_parameters={"group_id": level["group"]},
        json={"tags": ["金卡"]},
    )
    assert status == 200 and sorted(t["name"] for t in group["tags"]) == ["旧金卡", "金卡"], group
    assert len({t["tag_id"] for t in group["tags"]}) == 2
    assert _wecom_library(stack) == {"旧等级": ["旧金卡", "金卡"], "等级": ["银卡"]}
