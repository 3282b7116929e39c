"""Sign-in through the real handler, against the WeCom and mini-program sandboxes (HTTP), and the
issued tokens on the operator, guide and affiliate APIs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import StackHandle
from tests.support import api_event, token_for

SIGN_IN, ADMIN, GUIDE, AFFILIATE = (
    "SignInApiFunction",
    "AdminApiFunction",
    "GuideApiFunction",
    "AffiliateApiFunction",
)


def _post(stack: StackHandle, resource: str, body: Any, corp_id: str | None = None) -> tuple[int, Any]:
    event = api_event("POST", resource, body=json.dumps(body))
    if corp_id:
        event["headers"]["X-Corp-Id"] = corp_id
        event["multiValueHeaders"]["X-Corp-Id"] = [corp_id]
    response = stack.invoke(SIGN_IN, event)
    return response["statusCode"], json.loads(response["body"])


def _synced(stack: StackHandle) -> None:
    result = stack.sync_org()
    assert result["state"] == "finished", result


def _wecom(stack: StackHandle, **who: Any) -> tuple[int, Any]:
    role = who.pop("role", None)
    code = stack.wecom.login_code(who)["code"]
    return _post(stack, "/auth/wecom", {"code": code, **({"role": role} if role else {})})


def _miniprogram(stack: StackHandle, openid: str, unionid: str | None) -> tuple[int, Any]:
    code = stack.miniprogram.issue_code({"openid": openid, "unionid": unionid})["code"]
    return _post(stack, "/auth/miniprogram", {"code": code})


def _staff(stack: StackHandle, document: dict[str, Any], token: str | None = None) -> tuple[int, Any]:
    return stack.api(SIGN_IN, "PUT", "/admin/sign-in/staff", token or token_for("admin"), json=document)


def test_an_operator_signed_in_with_wecom_sees_their_departments_only(stack: StackHandle) -> None:
    _synced(stack)
    assert _staff(stack, {"operators": [{"user_id": "ops-li", "dept_ids": ["2"]}]})[0] == 200
    status, pair = _wecom(stack, userid="ops-li")
    assert status == 200, pair
    assert (pair["role"], pair["subject"], pair["dept_ids"], pair["token_type"]) == (
        "operator",
        "ops-li",
        ["2"],
        "Bearer",
    )
    status, outlets = stack.api(ADMIN, "GET", "/admin/outlets", pair["access_token"])
    assert status == 200 and sorted(o["outlet_id"] for o in outlets) == ["21", "22"]
    assert stack.status(ADMIN, "POST", "/admin/org/sync", pair["access_token"]) == 403


def test_a_guide_signed_in_with_wecom_uses_the_guide_api(stack: StackHandle) -> None:
    _synced(stack)
    status, pair = _wecom(stack, userid="zhangwei")
    assert status == 200 and pair["role"] == "guide", pair
    assert stack.api(GUIDE, "GET", "/guide/customers", pair["access_token"]) == (200, [])
    assert stack.status(ADMIN, "GET", "/admin/outlets", pair["access_token"]) == 403


def test_an_affiliate_signed_in_with_the_mini_program_uses_the_affiliate_api(stack: StackHandle) -> None:
    status, pair = _miniprogram(stack, "oOpenid-0001", "oUnion-0001")
    assert status == 200, pair
    assert (pair["role"], pair["subject"], pair["openid"]) == ("affiliate", "oUnion-0001", "oOpenid-0001")
    status, program = stack.api(AFFILIATE, "GET", "/affiliate/program", pair["access_token"])
    assert status == 200 and "my_eligibility" in program
    assert stack.status(GUIDE, "GET", "/guide/customers", pair["access_token"]) == 403


def test_refresh_rotates_and_a_replay_ends_the_session(stack: StackHandle) -> None:
    _synced(stack)
    first = _wecom(stack, userid="lifang")[1]
    status, second = _post(stack, "/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert status == 200 and second["refresh_token"] != first["refresh_token"]
    assert stack.api(GUIDE, "GET", "/guide/customers", second["access_token"])[0] == 200
    status, replay = _post(stack, "/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert status == 401 and replay["error"]["field"] == "refresh_token"
    assert _post(stack, "/auth/refresh", {"refresh_token": second["refresh_token"]})[0] == 401
    assert _post(stack, "/auth/refresh", {"refresh_token": second["access_token"]})[0] == 401
    assert stack.status(GUIDE, "GET", "/guide/customers", first["refresh_token"]) == 401


def test_a_member_removed_from_wecom_cannot_refresh(stack: StackHandle) -> None:
    _synced(stack)
    pair = _wecom(stack, userid="wangqiang")[1]
    del stack.wecom.users["wangqiang"]
    _synced(stack)
    status, refused = _post(stack, "/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert status == 403 and refused["error"]["code"] == "forbidden", refused


def test_sign_out_ends_the_session(stack: StackHandle) -> None:
    pair = _miniprogram(stack, "oOpenid-0002", "oUnion-0002")[1]
    assert _post(stack, "/auth/sign-out", {"refresh_token": pair["refresh_token"]}) == (200, {"ended": True})
    assert _post(stack, "/auth/refresh", {"refresh_token": pair["refresh_token"]})[0] == 401


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [(45011, 429, "rate_limited"), (-1, 502, "upstream_error"), (40029, 400, "invalid_input")],
)
def test_wechat_errors_are_clear_answers(stack: StackHandle, fault: int, status: int, code: str) -> None:
    stack.miniprogram.faults.append(fault)
    answered, body = _miniprogram(stack, "oOpenid-0003", "oUnion-0003")
    assert (answered, body["error"]["code"]) == (status, code), body


def test_bad_sign_in_requests_are_400s_naming_the_field(stack: StackHandle) -> None:
    assert _post(stack, "/auth/wecom", {})[1]["error"]["field"] == "code"
    assert _post(stack, "/auth/wecom", {"code": "a b"})[1]["error"]["field"] == "code"
    assert _post(stack, "/auth/wecom", {"code": "x", "role": "affiliate"})[1]["error"]["field"] == "role"
    status, body = _post(stack, "/auth/wecom", {"code": "never-issued"})
    assert (status, body["error"]["field"]) == (400, "code")
    assert _post(stack, "/auth/refresh", {"refresh_token": ""})[0] == 400


def test_an_unknown_tenant_is_401(stack: StackHandle) -> None:
    code = stack.wecom.login_code({"userid": "zhangwei"})["code"]
    status, body = _post(stack, "/auth/wecom", {"code": code}, corp_id="ww-nobody")
    assert (status, body["error"]["field"]) == (401, "X-Corp-Id")


def test_only_admins_read_or_change_the_staff_list(stack: StackHandle) -> None:
    _synced(stack)
    operator = token_for("operator", "ops-li", ("2",))
    assert stack.status(SIGN_IN, "GET", "/admin/sign-in/staff", operator) == 403
    assert _staff(stack, {"admins": ["x"]}, operator)[0] == 403
    status, body = _staff(stack, {"operators": [{"user_id": "ops-li", "dept_ids": ["404"]}]})
    assert (status, body["error"]["field"]) == (400, "operators.0.dept_ids")
    status, body = _staff(stack, {"admins": ["not a userid"]})
    assert (status, body["error"]["field"]) == (400, "admins.0")
    assert _staff(stack, {"admins": ["ops-li"]})[0] == 200
    assert stack.api(SIGN_IN, "GET", "/admin/sign-in/staff", token_for("admin")) == (
        200,
        {"admins": ["ops-li"], "operators": []},
    )
    assert _wecom(stack, userid="ops-li")[1]["role"] == "admin"


def test_the_openapi_document_describes_the_sign_in_routes(stack: StackHandle) -> None:
    status, document = stack.api(SIGN_IN, "GET", "/auth/swagger", "", query={"format": ["json"]})
    assert status == 200
    paths = document["paths"]
    for path in ("/auth/wecom", "/auth/miniprogram", "/auth/refresh", "/auth/sign-out"):
        operation = paths[path]["post"]
        assert operation["security"] == [{}], path  # no bearer token needed
        assert "requestBody" in operation and "200" in operation["responses"]
    assert paths["/admin/sign-in/staff"]["put"].get("security") is None  # the document's bearer applies
    schemas = document["components"]["schemas"]
    assert {"WeComSignIn", "MiniProgramSignIn", "RefreshRequest", "SignedIn", "SignInStaff"} <= set(schemas)
