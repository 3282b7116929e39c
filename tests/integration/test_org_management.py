"""Organization management (seed 002): data nodes with names, search, add / remove one node,
the org chart in the caller's scope feeding the outlet filter, and the background sync's status."""

from __future__ import annotations

from typing import Any

from tests.conftest import StackHandle
from tests.support import token_for

ADMIN_API = "AdminApiFunction"
ADMIN = token_for("admin")
EAST = token_for("operator", "ops-east", dept_ids=("2",))


def _api(stack: StackHandle, method: str, path: str, token: str = ADMIN, **request: Any) -> tuple[int, Any]:
    return stack.api(ADMIN_API, method, path, token, **request)


def _levels(stack: StackHandle, *nodes: str) -> None:
    body = {"level_name": "零售公司", "node_dept_ids": list(nodes)}
    assert _api(stack, "PUT", "/admin/org/levels", json=body)[0] == 200


def test_the_sync_runs_in_the_background_and_shows_its_status(stack: StackHandle) -> None:
    status, idle = _api(stack, "GET", "/admin/org/sync")
    assert status == 200 and idle["state"] == "idle"
    status, queued = _api(stack, "POST", "/admin/org/sync")
    assert status == 202 and queued["state"] == "queued" and queued["requested_by"]
    assert [d["dept_id"] for d in _api(stack, "GET", "/admin/org/tree")[1]] == []  # nothing ran yet
    stack.process_queue()
    done = _api(stack, "GET", "/admin/org/sync")[1]
    assert done["state"] == "finished" and done["outcome"] == "ok" and done["started_at"]
    assert done["result"] == {"departments": 6, "outlets": 3, "guides": 4, "written": 10, "removed": 0}
    assert "4 guides" in done["progress"]
    assert _api(stack, "GET", "/admin/org/sync", EAST)[0] == 403


def test_data_nodes_carry_their_names_and_are_searched_by_name(stack: StackHandle) -> None:
    stack.sync_org()
    _levels(stack, "2", "3")
    levels = _api(stack, "GET", "/admin/org/levels")[1]
    assert [(n["dept_id"], n["name"], n["path_names"]) for n in levels["nodes"]] == [
        ("2", "华东零售公司", ["品牌总部", "华东零售公司"]),
        ("3", "华南零售公司", ["品牌总部", "华南零售公司"]),
    ]
    found = _api(stack, "GET", "/admin/org/levels", query={"q": ["华南"]})[1]
    assert [n["dept_id"] for n in found["nodes"]] == ["3"] and found["node_dept_ids"] == ["3"]
    assert _api(stack, "GET", "/admin/org/levels", query={"q": ["零售"]})[1]["node_dept_ids"] == ["2", "3"]
    assert _api(stack, "GET", "/admin/org/levels", EAST)[1]["node_dept_ids"] == ["2"]  # their subtree


def test_one_node_is_added_and_one_removed_whose_operators_then_only_read(stack: StackHandle) -> None:
    stack.sync_org()
    _levels(stack, "3")
    status, added = _api(stack, "POST", "/admin/org/levels/nodes", json={"dept_id": "2"})
    assert status == 200 and added["node_dept_ids"] == ["3", "2"] and added["level_name"] == "零售公司"
    assert _api(stack, "POST", "/admin/org/levels/nodes", json={"dept_id": "2"})[0] == 409
    status, unknown = _api(stack, "POST", "/admin/org/levels/nodes", json={"dept_id": "404"})
    assert status == 400 and unknown["error"]["field"] == "dept_id"
    assert _api(stack, "POST", "/admin/org/levels/nodes", EAST, json={"dept_id": "21"})[0] == 403

    welcome = {"path_parameters": {"user_id": "zhangwei"}, "json": {"text": "您好"}}
    assert _api(stack, "PUT", "/admin/guides/{user_id}/welcome-message", EAST, **welcome)[0] == 200
    assert (
        _api(stack, "DELETE", "/admin/org/levels/nodes/{dept_id}", EAST, path_parameters={"dept_id": "2"})[0]
        == 403
    )
    status, removed = _api(
        stack, "DELETE", "/admin/org/levels/nodes/{dept_id}", path_parameters={"dept_id": "2"}
    )
    assert status == 200 and removed["node_dept_ids"] == ["3"]
    assert (
        _api(stack, "DELETE", "/admin/org/levels/nodes/{dept_id}", path_parameters={"dept_id": "2"})[0] == 404
    )
    assert _api(stack, "PUT", "/admin/guides/{user_id}/welcome-message", EAST, **welcome)[0] == 403
    assert [o["outlet_id"] for o in _api(stack, "GET", "/admin/outlets", EAST)[1]] == ["21", "22"]


def test_the_org_chart_is_scoped_counted_searchable_and_feeds_the_outlet_filter(stack: StackHandle) -> None:
    stack.sync_org()
    _levels(stack, "2")
    tree = {d["dept_id"]: d for d in _api(stack, "GET", "/admin/org/tree")[1]}
    assert list(tree) == ["1", "2", "21", "22", "3", "31"]  # depth first
    root, east = tree["1"], tree["2"]
    assert (root["parent_id"], root["outlet_count"], root["guide_count"]) == (None, 3, 4)
    assert (east["name"], east["is_data_node"], east["outlet_count"], east["guide_count"]) == (
        "华东零售公司",
        True,
        2,
        3,
    )
    assert tree["21"]["is_outlet"] and not east["is_outlet"]

    mine = _api(stack, "GET", "/admin/org/tree", EAST)[1]
    assert [(d["dept_id"], d["parent_id"]) for d in mine] == [("2", None), ("21", "2"), ("22", "2")]

    found = _api(stack, "GET", "/admin/org/tree", query={"q": ["徐汇"]})[1]
    assert [(d["dept_id"], d["matched"]) for d in found] == [("1", False), ("2", False), ("22", True)]
    assert _api(stack, "GET", "/admin/org/tree", EAST, query={"q": ["南山"]})[1] == []  # outside their scope

    picked = [d["dept_id"] for d in found if d["matched"]]
    outlets = _api(stack, "GET", "/admin/outlets", query={"subtree": picked})[1]
    assert [o["outlet_id"] for o in outlets] == ["22"]
