"""Seed 004's worked example over HTTP on the running stack (``make run``): a campaign, five
WeChat Store orders — one per scene plus one excluded — through payment, a partial refund,
completion and the after-sales window (the hourly job fired at a time past it), then the
subsidy report's figures and one order's evidence trail."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests.e2e.conftest import RunningStack
from tests.e2e.test_wecom_over_http import _token
from tests.support import signed_headers
from tests.support.subsidy import (
    SEED_CAMPAIGN_BODY,
    SEED_ORDERS,
    SEED_REPORT,
    SEED_ROWS,
    WINDOW_PASSED,
    completed_body,
    refund_body,
    store_paid_body,
)

pytestmark = pytest.mark.e2e
CAMPAIGN = "e2e-seed-004"
ORDERS = [dict(order, order_id=f"E2E-{order['order_id']}") for order in SEED_ORDERS]


def _post(stack: RunningStack, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    answer = requests.post(
        f"{stack.api_url}/webhooks/orders", data=raw, headers=signed_headers(raw), timeout=10
    )
    assert answer.status_code == 202, answer.text


def _get(stack: RunningStack, path: str, token: str, **params: str) -> requests.Response:
    return requests.get(
        f"{stack.api_url}{path}", headers={"Authorization": f"Bearer {token}"}, params=params, timeout=30
    )


def test_seed_004_five_orders_through_the_window_then_the_report(running_stack: RunningStack) -> None:
    stack = running_stack
    admin = _token(stack, "--role", "admin")
    created = requests.post(
        f"{stack.api_url}/admin/subsidy/campaigns",
        headers={"Authorization": f"Bearer {admin}"},
        json={**SEED_CAMPAIGN_BODY, "campaign_id": CAMPAIGN},
        timeout=30,
    )
    assert created.status_code == 200, created.text

    for order in ORDERS:
        _post(stack, store_paid_body(order))
    for order in ORDERS:
        if order["refund_fen"]:
            _post(stack, refund_body(order["order_id"], order["refund_fen"]))
    for order in ORDERS:
        _post(stack, completed_body(order["order_id"]))
    for order in ORDERS:
        stack.wait_for(
            lambda o=order: (stack.order(o["order_id"]) or {}).get("status") == "completed",
            what=f"{order['order_id']} completed",
        )

    fired = stack.command("fire", "AfterSalesWindowFunction", "--at", WINDOW_PASSED)
    assert fired.returncode == 0, fired.stderr
    assert json.loads(fired.stdout)["emitted"] >= len(ORDERS)

    def settled() -> dict[str, Any] | None:
        answer = _get(stack, "/admin/subsidy/report", admin, campaign_id=CAMPAIGN)
        assert answer.status_code == 200, answer.text
        report: dict[str, Any] = answer.json()
        return report if report["orders"] == SEED_REPORT["orders"] else None

    report = stack.wait_for(settled, what="the four orders in the plan settled")
    assert {key: report[key] for key in SEED_REPORT} == SEED_REPORT
    rows = {
        row["scene"]: (row["orders"], row["settled_fen"], row["fee_saved_fen"], row["growth_cards_fen"])
        for row in report["rows"]
    }
    assert rows == SEED_ROWS

    csv = _get(stack, "/admin/subsidy/report", admin, campaign_id=CAMPAIGN, format="csv")
    assert csv.status_code == 200 and f"{CAMPAIGN},live_reservation,2026-07-02,1,30000,0,1200,0,0" in csv.text

    trail = _get(stack, "/admin/subsidy/orders/E2E-WXS-share", admin)
    assert trail.status_code == 200, trail.text
    body = trail.json()
    assert (body["state"], body["scene"], body["settled_fen"], body["fee_saving_fen"]) == (
        "final",
        "wecom_share",
        8_000,
        320,
    )
    excluded = _get(stack, "/admin/subsidy/orders/E2E-WXS-excluded", admin).json()
    assert excluded["in_plan"] is False and any("文玩" in line for line in excluded["evidence"])
