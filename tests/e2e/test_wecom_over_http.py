"""WeCom callbacks through the running local gateway."""

from __future__ import annotations

import pytest
import requests

from tests.e2e.conftest import RunningStack
from tests.unit.test_wecom_crypto import ECHOSTR, POST_ENCRYPT

pytestmark = pytest.mark.e2e


def test_tencents_vectors_pass_through_the_gateway(running_stack: RunningStack) -> None:
    verified = requests.get(
        f"{running_stack.api_url}/wecom/callback",
        timeout=10,
        params={
            "corp_id": "wx5823bf96d3bd56c7",
            "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
            "timestamp": "1409659589",
            "nonce": "263014780",
            "echostr": ECHOSTR,
        },
    )
    assert verified.status_code == 200 and verified.text == "1616140317555161061"
    assert verified.headers["Content-Type"].startswith("text/plain")
    body = (
        f"<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[{POST_ENCRYPT}]]>"
        "</Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
    )
    query = {
        "msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6",
        "timestamp": "1409659813",
        "nonce": "1372623149",
    }
    accepted = requests.post(
        f"{running_stack.api_url}/wecom/callback", params=query, data=body.encode(), timeout=10
    )
    assert accepted.status_code == 200 and accepted.text == "success"
    tampered = requests.post(
        f"{running_stack.api_url}/wecom/callback",
        data=body.encode(),
        timeout=10,
        params=dict(query, msg_signature="0" * 40),
    )
    assert tampered.status_code == 401


def _token(stack: RunningStack, *args: str) -> str:
    import subprocess
    import sys

    from tests.support import ROOT

    result = subprocess.run(
        [sys.executable, "-m", "infra.local", "token", *args],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.strip()


def _outlets(stack: RunningStack, token: str, **params: object) -> dict[str, dict[str, object]]:
    response = requests.get(
        f"{stack.api_url}/admin/outlets",
        params=params,  # type: ignore[arg-type]
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return {outlet["outlet_id"]: outlet for outlet in response.json()}


def test_sync_qr_scan_welcome_and_department_move_end_to_end(running_stack: RunningStack) -> None:
    stack, admin = running_stack, _token(running_stack, "--role", "admin")
    auth = {"Authorization": f"Bearer {admin}"}
    synced = stack.sync_org(auth)
    assert synced["state"] == "finished", synced
    assert synced["result"]["outlets"] == 3 and synced["result"]["guides"] == 4
    outlets = _outlets(stack, admin)
    assert {k: (v["name"], v["guide_count"]) for k, v in outlets.items()} == {
        "21": ("上海静安店", 2),
        "22": ("上海徐汇店", 1),
        "31": ("深圳南山店", 1),
    }
    assert stack.sync_org(auth)["result"]["written"] == 0
    # Other tests of the session (the README's examples, the demo) may have bound customers here.
    before = outlets["21"]["customer_count"]

    way = requests.post(
        f"{stack.api_url}/admin/outlets/21/contact-way",
        headers=auth,
        timeout=30,
        json={"welcome_message": "欢迎光临静安店，我是您的专属导购"},
    )
    assert way.status_code == 200, way.text
    sent_before = len(
        requests.get(f"{stack.wecom_url}/sandbox/wecom/state", timeout=10).json()["welcome_sent"]
    )
    scan = requests.post(
        f"{stack.wecom_url}/sandbox/wecom/scan",
        timeout=60,
        json={
            "config_id": way.json()["config_id"],
            "unionid": "oUnion-e2e-1",
            "name": "顾客甲",
            "deliveries": 3,
        },
    )
    assert scan.json()["delivered"] == [200, 200, 200]
    stack.wait_for(
        lambda: _outlets(stack, admin)["21"]["customer_count"] == before + 1,
        what="customer bound to outlet 21",
    )
    state = requests.get(f"{stack.wecom_url}/sandbox/wecom/state", timeout=10).json()
    assert [m["text"] for m in state["welcome_sent"][sent_before:]] == ["欢迎光临静安店，我是您的专属导购"]
    assert _outlets(stack, admin)["21"]["customer_count"] == before + 1  # the two retries changed nothing

    moved = requests.post(
        f"{stack.wecom_url}/sandbox/wecom/departments",
        timeout=60,
        json={"id": 22, "name": "上海徐汇店", "parentid": 3},
    )
    assert moved.json()["delivered"] == [200]
    stack.wait_for(
        lambda: _outlets(stack, admin).get("22", {}).get("path") == ["1", "3", "22"],
        what="outlet 22 moved under department 3",
    )
    south = _token(running_stack, "--role", "operator", "--sub", "ops-south", "--dept", "3")
    assert sorted(_outlets(stack, south)) == ["22", "31"]
    assert sorted(_outlets(stack, admin, subtree="2")) == ["21"]
    assert sorted(_outlets(stack, admin, q="深圳")) == ["31"]


def test_tag_groups_follow_the_console_in_wecom_and_a_re_enabled_last_tag_recreates_its_group(
    running_stack: RunningStack,
) -> None:
    stack, admin = running_stack, _token(running_stack, "--role", "admin")
    auth = {"Authorization": f"Bearer {admin}"}

    def wecom_groups() -> dict[str, list[str]]:
        state = requests.get(f"{stack.wecom_url}/sandbox/wecom/state", timeout=10).json()
        return {g["group_name"]: sorted(t["name"] for t in g["tag"]) for g in state["tag_groups"]}

    created = requests.post(
        f"{stack.api_url}/admin/tag-groups",
        headers=auth,
        timeout=30,
        json={"name": "e2e-兴趣", "tags": ["露营"]},
    )
    assert created.status_code == 200, created.text
    group_id, tag_id = created.json()[0]["group_id"], created.json()[0]["tag_id"]
    group_url, tag_url = (
        f"{stack.api_url}/admin/tag-groups/{group_id}",
        f"{stack.api_url}/admin/tags/{tag_id}",
    )
    added = requests.post(f"{group_url}/tags", headers=auth, timeout=30, json={"tags": ["骑行"]})
    assert added.status_code == 200, added.text
    assert wecom_groups()["e2e-兴趣"] == ["露营", "骑行"]
    riding = next(t["tag_id"] for t in added.json()["tags"] if t["name"] == "骑行")
    assert (
        requests.delete(f"{stack.api_url}/admin/tags/{riding}", headers=auth, timeout=30).status_code == 200
    )

    hidden = requests.patch(tag_url, headers=auth, timeout=30, json={"visible": False})
    assert hidden.status_code == 200 and "e2e-兴趣" not in wecom_groups()  # gone with its last tag
    shown = requests.patch(tag_url, headers=auth, timeout=30, json={"visible": True})
    assert shown.status_code == 200, shown.text
    assert wecom_groups()["e2e-兴趣"] == ["露营"]
    renamed = requests.patch(group_url, headers=auth, timeout=30, json={"name": "e2e-爱好"})
    assert renamed.status_code == 200, renamed.text
    assert wecom_groups()["e2e-爱好"] == ["露营"] and "e2e-兴趣" not in wecom_groups()
    assert requests.delete(group_url, headers=auth, timeout=30).status_code == 200
    assert "e2e-爱好" not in wecom_groups()
