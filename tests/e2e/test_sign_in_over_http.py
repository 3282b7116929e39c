"""Sign-in over HTTP on the running stack: WeCom (operator, guide) and mini program (affiliate)
through the sandboxes, the issued tokens on /admin, /guide and /affiliate, refresh, and a member
who leaves WeCom losing the session."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e
GUIDE_ID = "signin-e2e-guide"


def _dev_admin(stack: RunningStack) -> dict[str, str]:
    minted = stack.command("token", "--role", "admin", "--hours", "1")
    assert minted.returncode == 0, minted.stderr
    return {"Authorization": f"Bearer {minted.stdout.strip()}"}


def _bearer(pair: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


def _sign_in(stack: RunningStack, route: str, code: str) -> dict[str, Any]:
    answer = requests.post(f"{stack.api_url}{route}", json={"code": code}, timeout=30)
    assert answer.status_code == 200, answer.text
    pair: dict[str, Any] = answer.json()
    return pair


def _wecom_code(stack: RunningStack, user_id: str) -> str:
    minted = requests.post(f"{stack.wecom_url}/sandbox/oauth/code", json={"userid": user_id}, timeout=10)
    assert minted.status_code == 200, minted.text
    return str(minted.json()["code"])


def _refresh(stack: RunningStack, pair: dict[str, Any]) -> requests.Response:
    return requests.post(
        f"{stack.api_url}/auth/refresh", json={"refresh_token": pair["refresh_token"]}, timeout=30
    )


def _guide_synced(stack: RunningStack) -> bool:
    item = (
        stack.client("dynamodb")
        .get_item(
            TableName=f"{stack.stack_name}-IncentivesTable",
            Key={"pk": {"S": f"T#ww-local-corp#GUIDE#{GUIDE_ID}"}, "sk": {"S": "GUIDE"}},
        )
        .get("Item")
    )
    return item is not None


def _outlet_ids(stack: RunningStack, headers: dict[str, str], **params: str) -> list[str]:
    answer = requests.get(f"{stack.api_url}/admin/outlets", headers=headers, params=params, timeout=30)
    assert answer.status_code == 200, answer.text
    return sorted(outlet["outlet_id"] for outlet in answer.json())


def test_operator_guide_and_affiliate_sign_in_and_use_their_apis(running_stack: RunningStack) -> None:
    stack, admin = running_stack, _dev_admin(running_stack)
    assert stack.sync_org(admin)["state"] == "finished"
    staff = requests.put(
        f"{stack.api_url}/admin/sign-in/staff",
        headers=admin,
        json={"operators": [{"user_id": "ops-li", "dept_ids": ["2"]}]},
        timeout=30,
    )
    assert staff.status_code == 200, staff.text

    # An operator, with the code of a WeCom QR login: their departments' outlets only.
    operator = _sign_in(stack, "/auth/wecom", _wecom_code(stack, "ops-li"))
    assert (operator["role"], operator["dept_ids"]) == ("operator", ["2"])
    assert _outlet_ids(stack, _bearer(operator)) == _outlet_ids(stack, admin, subtree="2")
    forbidden = requests.put(
        f"{stack.api_url}/admin/sign-in/staff", headers=_bearer(operator), json={"admins": []}, timeout=30
    )
    assert forbidden.status_code == 403

    # A guide who joins an outlet in WeCom (change_contact re-syncs) signs in to the guide API.
    joined = requests.post(
        f"{stack.wecom_url}/sandbox/wecom/users",
        json={"userid": GUIDE_ID, "name": "签到导购", "department": [31]},
        timeout=60,
    )
    assert joined.json()["delivered"] == [200]
    stack.wait_for(lambda: _guide_synced(stack), what="the new guide synced")
    guide = _sign_in(stack, "/auth/wecom", _wecom_code(stack, GUIDE_ID))
    assert (guide["role"], guide["subject"]) == ("guide", GUIDE_ID)
    mine = requests.get(f"{stack.api_url}/guide/customers", headers=_bearer(guide), timeout=30)
    assert mine.status_code == 200 and mine.json() == []

    # An affiliate (a customer), with wx.login()'s code: sub is the unionid.
    minted = requests.post(
        f"{stack.miniprogram_url}/sandbox/miniprogram/code",
        json={"openid": "oOpenid-e2e-signin", "unionid": "oUnion-e2e-signin"},
        timeout=10,
    )
    affiliate = _sign_in(stack, "/auth/miniprogram", minted.json()["code"])
    assert (affiliate["role"], affiliate["subject"]) == ("affiliate", "oUnion-e2e-signin")
    program = requests.get(f"{stack.api_url}/affiliate/program", headers=_bearer(affiliate), timeout=30)
    assert program.status_code == 200, program.text
    assert (
        requests.get(f"{stack.api_url}/guide/customers", headers=_bearer(affiliate), timeout=30).status_code
        == 403
    )

    # Refresh: a new pair that works; the used refresh token does not work twice.
    renewed = _refresh(stack, guide)
    assert renewed.status_code == 200, renewed.text
    again = requests.get(f"{stack.api_url}/guide/customers", headers=_bearer(renewed.json()), timeout=30)
    assert again.status_code == 200
    assert _refresh(stack, operator).status_code == 200
    assert _refresh(stack, affiliate).status_code == 200

    # The guide leaves WeCom: the delete_user callback re-syncs, and the session cannot be refreshed.
    left = requests.post(
        f"{stack.wecom_url}/sandbox/wecom/users/delete", json={"userid": GUIDE_ID}, timeout=60
    )
    assert left.json()["delivered"] == [200]
    stack.wait_for(lambda: not _guide_synced(stack), what="the departed guide removed by the re-sync")
    refused = _refresh(stack, renewed.json())
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["field"] == "refresh_token"
