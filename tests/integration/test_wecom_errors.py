"""WeCom refusals on the console's WeCom calls: a clear ``wecom_error``, nothing half-written.

The sandbox's switchable faults play WeCom: ``-1`` (busy), ``60011`` (no permission) and a
``45009`` (rate limit) that outlasts the client's backoff. Busy and rate limit answer 503 with
``Retry-After``; no permission answers 502. The stored state is as it was before the request,
on our side and in WeCom; the scheduled org sync records the failure and the next run applies.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from unittest import mock

import pytest

from incentives.wecom import client as wecom_client
from incentives.wecom import token_client
from tests.conftest import StackHandle
from tests.integration.test_org_tags_guides import _contact_way
from tests.support import api_event, sample, token_for

ADMIN_API = "AdminApiFunction"
ADMIN = token_for("admin")


@dataclass(frozen=True)
class Fault:
    codes: tuple[int, ...]
    status: int
    retry_after: str | None


BUSY = Fault((-1,), 503, "5")
NO_PERMISSION = Fault((60011,), 502, None)
RATE_LIMITED = Fault((wecom_client.FREQUENCY_LIMIT,) * (len(token_client.BACKOFF_SECONDS) + 1), 503, "60")
FAULTS = [BUSY, NO_PERMISSION, RATE_LIMITED]
FAULT_IDS = ["busy -1", "no permission 60011", "rate limit 45009"]


@pytest.fixture(autouse=True)
def _no_waiting_in_the_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client still retries 45009 as many times; the test does not sleep between them."""
    monkeypatch.setattr(token_client, "BACKOFF_SECONDS", (0.0,) * len(token_client.BACKOFF_SECONDS))


def _call(stack: StackHandle, method: str, path: str, **request: Any) -> tuple[int, dict[str, str], Any]:
    body = request.pop("json", None)
    event = api_event(
        method, path, token=ADMIN, body=json.dumps(body) if body is not None else None, **request
    )
    response = stack.invoke(ADMIN_API, event)
    headers = {name: values[-1] for name, values in (response.get("multiValueHeaders") or {}).items()}
    return (
        response["statusCode"],
        {**headers, **(response.get("headers") or {})},
        json.loads(response["body"]),
    )


def _assert_wecom_error(fault: Fault, status: int, headers: dict[str, str], answer: Any, api: str) -> None:
    assert status == fault.status, answer
    assert headers.get("Retry-After") == fault.retry_after
    error = answer["error"]
    assert (error["code"], error["errcode"], error["api"]) == ("wecom_error", fault.codes[0], api)
    assert error["message"] and "sandbox" not in error["message"]  # its meaning, not WeCom's text


def _ours(stack: StackHandle) -> list[dict[str, Any]]:
    """The stored state, but the cached access token and the sync status (which records attempts)."""
    return sorted(
        (item for item in stack.table_items() if item["sk"] not in ("TOKEN", "STATUS")),
        key=lambda item: (item["pk"], item["sk"]),
    )


def _wecom_side(stack: StackHandle) -> Any:
    return json.loads(json.dumps([stack.wecom.departments, stack.wecom.tag_groups, stack.wecom.contact_ways]))


def _synced(stack: StackHandle) -> None:
    result = stack.sync_org()
    assert result["state"] == "finished" and result["result"]["outlets"] == 3, result


def _sync_status(stack: StackHandle) -> dict[str, Any]:
    [status] = [item for item in stack.table_items() if item.get("kind") == "org_sync_status"]
    return status


def _move_outlet_22_to_the_south(stack: StackHandle) -> None:
    stack.wecom.departments[22]["parentid"] = 3


@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_IDS)
def test_a_manual_sync_refused_midway_shows_wecom_error_on_its_status_and_changes_nothing(
    stack: StackHandle, fault: Fault
) -> None:
    _synced(stack)
    _move_outlet_22_to_the_south(stack)
    before = _ours(stack)
    stack.wecom.faults.extend((0, 0, *fault.codes))  # department/list and one page of members pass
    with mock.patch("incentives.org.sync.MEMBER_PAGE_SIZE", 2):
        recorded = stack.sync_org()  # the request answers 202; the background run fails
    assert (recorded["state"], recorded["outcome"], recorded["failures_in_a_row"]) == ("failed", "failed", 1)
    failure = recorded["failure"]
    assert (failure["code"], failure["errcode"], failure["api"]) == (
        "wecom_error",
        fault.codes[0],
        "/cgi-bin/user/list_id",
    )
    assert str(failure.get("retry_after_seconds")) == str(fault.retry_after)
    assert failure["message"] and "sandbox" not in failure["message"]  # its meaning, not WeCom's text
    assert _ours(stack) == before
    recorded = stack.sync_org()  # WeCom answers again: it applies
    assert recorded["state"] == "finished" and recorded["result"]["written"] > 0
    assert recorded["outcome"] == "ok" and recorded["failure"] is None


@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_IDS)
def test_the_scheduled_sync_records_a_refusal_and_the_next_run_applies(
    stack: StackHandle, fault: Fault
) -> None:
    _synced(stack)
    _move_outlet_22_to_the_south(stack)
    before = _ours(stack)
    stack.wecom.faults.extend(fault.codes)
    results = stack.invoke("OrgSyncFunction", sample("org_sync/midnight"))  # does not raise
    assert results["ww-local-corp"]["errcode"] == fault.codes[0]
    assert _ours(stack) == before
    recorded = _sync_status(stack)
    assert recorded["outcome"] == "failed" and recorded["failure"]["code"] == "wecom_error"
    assert recorded["last_attempt_at"] == "2026-11-24T16:00:00.000Z" and "last_success_at" in recorded
    results = stack.invoke("OrgSyncFunction", sample("org_sync/midnight"))
    assert results["ww-local-corp"]["written"] > 0
    _, _, outlets = _call(stack, "GET", "/admin/outlets")
    assert {o["outlet_id"]: o["path"] for o in outlets}["22"] == ["1", "3", "22"]
    assert _sync_status(stack)["outcome"] == "ok"


@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_IDS)
def test_a_contact_way_refused_by_wecom_is_not_stored(stack: StackHandle, fault: Fault) -> None:
    _synced(stack)
    before, wecom_before = _ours(stack), _wecom_side(stack)
    stack.wecom.faults.extend(fault.codes)
    status, headers, answer = _call(
        stack,
        "POST",
        "/admin/outlets/{outlet_id}/contact-way",
        path_parameters={"outlet_id": "21"},
        json={"welcome_message": "欢迎"},
    )
    _assert_wecom_error(fault, status, headers, answer, "/cgi-bin/externalcontact/add_contact_way")
    assert _ours(stack) == before and _wecom_side(stack) == wecom_before
    assert _contact_way(stack, "21", "欢迎")["config_id"]  # once WeCom answers, it is created


def _tags(stack: StackHandle) -> list[dict[str, Any]]:
    status, _, tags = _call(stack, "GET", "/admin/tags")
    assert status == 200
    return list(tags)


def _create_group(stack: StackHandle) -> dict[str, Any]:
    status, _, created = _call(
        stack, "POST", "/admin/tag-groups", json={"name": "等级", "tags": ["金卡", "银卡"]}
    )
    assert status == 200, created
    return dict(created[0])


TagPush = Callable[[StackHandle, dict[str, Any]], tuple[int, dict[str, str], Any]]

PUSHES: dict[str, tuple[str, TagPush]] = {
    "create a group": (
        "add_corp_tag",
        lambda stack, tag: _call(stack, "POST", "/admin/tag-groups", json={"name": "兴趣", "tags": ["户外"]}),
    ),
    "rename": (
        "edit_corp_tag",
        lambda stack, tag: _call(
            stack,
            "PATCH",
            "/admin/tags/{tag_id}",
            path_parameters={"tag_id": tag["tag_id"]},
            json={"name": "白金卡"},
        ),
    ),
    "hide": (
        "del_corp_tag",
        lambda stack, tag: _call(
            stack,
            "PATCH",
            "/admin/tags/{tag_id}",
            path_parameters={"tag_id": tag["tag_id"]},
            json={"name": "白金卡", "visible": False},
        ),
    ),
    "delete": (
        "del_corp_tag",
        lambda stack, tag: _call(
            stack, "DELETE", "/admin/tags/{tag_id}", path_parameters={"tag_id": tag["tag_id"]}
        ),
    ),
}


@pytest.mark.parametrize("push", list(PUSHES))
@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_IDS)
def test_a_tag_push_refused_by_wecom_changes_neither_side(
    stack: StackHandle, fault: Fault, push: str
) -> None:
    api, send = PUSHES[push]
    tag = _create_group(stack)
    before, wecom_before, library = _ours(stack), _wecom_side(stack), _tags(stack)
    stack.wecom.faults.extend(fault.codes)
    status, headers, answer = send(stack, tag)
    _assert_wecom_error(fault, status, headers, answer, f"/cgi-bin/externalcontact/{api}")
    assert _ours(stack) == before and _wecom_side(stack) == wecom_before and _tags(stack) == library
    status, _, _ = send(stack, tag)  # once WeCom answers, the change goes through
    assert status == 200
