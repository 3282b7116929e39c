"""GET /admin/payouts, POST /admin/payouts/{id}/requeue: auth, scopes, filters, pages, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from incentives.ledger import postings
from incentives.ledger.model import Account, OwnerKind
from incentives.payouts.creation import PayoutRequest, create_payout
from incentives.payouts.model import Payee, ProviderName
from incentives.runtime import wiring
from tests.conftest import StackHandle
from tests.support import api_event, token_for

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
ADMIN = "AdminApiFunction"


def _call(stack: StackHandle, method: str, resource: str, **kwargs: Any) -> tuple[int, Any]:
    response = stack.invoke(ADMIN, api_event(method, resource, **kwargs))
    return response["statusCode"], json.loads(response["body"])


def _payouts(count: int, dept_path: tuple[str, ...] = ("1", "2"), owner: str = "guide-a") -> list[str]:
    account = Account("ww-local-corp", OwnerKind.GUIDE, owner)
    ids = []
    for index in range(count):
        credit = f"credit:{owner}-{index}"
        ledger = wiring.ledger_repository()
        ledger.credit(postings.credit(account, credit, 1_000, NOW), hold_until=NOW)
        hold = ledger.hold(account, credit)
        assert hold is not None
        ledger.settle(hold, postings.settlement(hold, NOW), NOW)
        payout = create_payout(
            wiring.payout_repository(),
            wiring.payout_queue(),
            PayoutRequest(
                f"reward:{owner}-{index}",
                Payee(account, "oX", dept_path=dept_path),
                1_000,
                ProviderName.WECOM_PAY,
                "奖励",
            ),
            NOW,
        )
        ids.append(payout.payout_id)
    return ids


def test_no_token_is_401_naming_the_header(stack: StackHandle) -> None:
    status, body = _call(stack, "GET", "/admin/payouts")
    assert status == 401 and body["error"]["field"] == "Authorization"


BAD_TOKENS: dict[str, Callable[[], str]] = {
    "expired": lambda: token_for(expired=True),
    "another secret": lambda: token_for(secret="another-secret-of-at-least-32-bytes!!"),
    "unknown tenant": lambda: token_for(corp_id="ww-unknown"),
    "not a JWT": lambda: "not.a.jwt",
}
"""Minted when the test runs: a token made at collection would name the second it was made in the
test's id, and two workers collecting in different seconds would disagree on the suite."""


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_a_bad_token_is_401(stack: StackHandle, kind: str) -> None:
    assert _call(stack, "GET", "/admin/payouts", token=BAD_TOKENS[kind]())[0] == 401


@pytest.mark.parametrize("role", ["guide", "affiliate"])
def test_guides_and_affiliates_may_not_use_the_console(stack: StackHandle, role: str) -> None:
    assert _call(stack, "GET", "/admin/payouts", token=token_for(role))[0] == 403


def test_payouts_are_listed_newest_first_in_pages(stack: StackHandle) -> None:
    ids = _payouts(5)
    token = token_for()
    status, first = _call(stack, "GET", "/admin/payouts", token=token, query={"limit": ["2"]})
    assert status == 200 and len(first["items"]) == 2 and first["next_cursor"]
    seen = [item["payout_id"] for item in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        _, page = _call(
            stack, "GET", "/admin/payouts", token=token, query={"limit": ["2"], "cursor": [cursor]}
        )
        seen += [item["payout_id"] for item in page["items"]]
        cursor = page["next_cursor"]
    assert sorted(seen) == sorted(ids) and len(seen) == 5


def test_payouts_filter_by_status(stack: StackHandle) -> None:
    _payouts(2)
    token = token_for()
    assert (
        len(_call(stack, "GET", "/admin/payouts", token=token, query={"status": ["queued"]})[1]["items"]) == 2
    )
    assert _call(stack, "GET", "/admin/payouts", token=token, query={"status": ["failed"]})[1]["items"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": ["lost"]}, "status"),
        ({"limit": ["0"]}, "limit"),
        ({"limit": ["many"]}, "limit"),
        ({"cursor": ["@@@"]}, "cursor"),
    ],
)
def test_bad_query_parameters_are_400_naming_them(
    stack: StackHandle, query: dict[str, list[str]], field: str
) -> None:
    status, body = _call(stack, "GET", "/admin/payouts", token=token_for(), query=query)
    assert status == 400 and body["error"]["field"] == field


def test_an_operator_sees_only_their_subtree(stack: StackHandle) -> None:
    mine = _payouts(2, dept_path=("1", "2", "21"), owner="guide-mine")
    theirs = _payouts(2, dept_path=("1", "3", "31"), owner="guide-theirs")
    operator = token_for("operator", dept_ids=("2",))
    _, page = _call(stack, "GET", "/admin/payouts", token=operator)
    assert sorted(item["payout_id"] for item in page["items"]) == sorted(mine)
    for payout_id in theirs:
        assert (
            _call(
                stack,
                "GET",
                "/admin/payouts/{payout_id}",
                path_parameters={"payout_id": payout_id},
                token=operator,
            )[0]
            == 404
        )
        assert (
            _call(
                stack,
                "POST",
                "/admin/payouts/{payout_id}/requeue",
                path_parameters={"payout_id": payout_id},
                token=operator,
            )[0]
            == 404
        )
    assert (
        _call(
            stack, "GET", "/admin/payouts/{payout_id}", path_parameters={"payout_id": mine[0]}, token=operator
        )[0]
        == 200
    )


def test_a_failed_payout_is_requeued_through_the_api_and_then_paid(stack: StackHandle) -> None:
    [payout_id] = _payouts(1)
    stack.payments.add_faults("pay", ["NOTENOUGH"])
    stack.feed("PayoutWorkerFunction", "PayoutQueue")
    _, failed = _call(stack, "GET", "/admin/payouts", token=token_for(), query={"status": ["failed"]})
    assert [(i["payout_id"], i["failure_code"], i["failure_reason"]) for i in failed["items"]] == [
        (payout_id, "NOTENOUGH", "余额不足")
    ]
    status, body = _call(
        stack,
        "POST",
        "/admin/payouts/{payout_id}/requeue",
        path_parameters={"payout_id": payout_id},
        token=token_for(),
    )
    assert status == 200 and body["status"] == "queued" and body["generation"] == 2
    stack.feed("PayoutWorkerFunction", "PayoutQueue")
    _, detail = _call(
        stack,
        "GET",
        "/admin/payouts/{payout_id}",
        path_parameters={"payout_id": payout_id},
        token=token_for(),
    )
    assert detail["status"] == "paid" and detail["transaction_id"]
    assert len(stack.payments.transfers_made()) == 1


def test_requeueing_a_payout_that_is_not_failed_is_409(stack: StackHandle) -> None:
    [payout_id] = _payouts(1)
    status, body = _call(
        stack,
        "POST",
        "/admin/payouts/{payout_id}/requeue",
        path_parameters={"payout_id": payout_id},
        token=token_for(),
    )
    assert status == 409 and body["error"]["field"] == "status"


def test_the_openapi_document_describes_the_routes(stack: StackHandle) -> None:
    response = stack.invoke(ADMIN, api_event("GET", "/admin/swagger", query={"format": ["json"]}))
    document = json.loads(response["body"])
    assert {"/admin/payouts", "/admin/payouts/{payout_id}", "/admin/payouts/{payout_id}/requeue"} <= set(
        document["paths"]
    )
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
