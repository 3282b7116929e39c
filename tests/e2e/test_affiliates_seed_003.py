"""Seed 003's worked example over HTTP on the running stack: promoter A binds customer C, B is
A's upline, C buys; each role sees its share in its own distribution center; after completion
and the after-sales window the commissions settle and A withdraws through WeChat Pay, confirming
the transfer (the payments sandbox plays A in WeChat)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.e2e.conftest import RunningStack
from tests.e2e.test_wecom_over_http import _token
from tests.support import LOCAL_CORP, sample_body, signed_headers

pytestmark = pytest.mark.e2e
NOW = datetime.now(UTC).replace(microsecond=0)


SEED_003_PROGRAM: dict[str, Any] = {
    "promotion_enabled": True,
    "invitation_image_url": "https://img.example.com/invite.png",
    "commission_rate_bp": 1000,
    "invite_rate_bp": 500,
    "after_sales_window_days": 7,
    "application": {"mode": "apply", "review": "auto", "match": "none"},
}
"""Seed 003's program: 10 % commission, 5 % invite reward, a 7-day after-sales window."""


def _call(stack: RunningStack, method: str, path: str, token: str, **kwargs: Any) -> Any:
    response = requests.request(
        method, f"{stack.api_url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30, **kwargs
    )
    assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
    return response.json()


def _send(
    stack: RunningStack, name: str, event_id: str, at: datetime, tenant: str = LOCAL_CORP, **data: Any
) -> None:
    body = sample_body(name)
    body.update(event_id=event_id, occurred_at=at.isoformat())
    body["data"].update(data)
    raw = json.dumps(body).encode()
    response = requests.post(
        f"{stack.api_url}/webhooks/orders", data=raw, headers=signed_headers(raw, corp_id=tenant), timeout=10
    )
    assert response.status_code == 202, response.text


def test_seed_003_each_role_sees_its_share_then_settles_and_withdraws(running_stack: RunningStack) -> None:
    stack = running_stack
    admin = _token(stack, "--role", "admin")
    a, b = (_token(stack, "--role", "affiliate", "--sub", who) for who in ("e2e-A", "e2e-B"))
    _call(
        stack,
        "PUT",
        "/admin/affiliates/settings",
        admin,
        json=SEED_003_PROGRAM,
    )
    _call(stack, "POST", "/affiliate/application", b, json={"openid": "openid-e2e-B"})
    _call(stack, "POST", "/affiliate/application", a, json={"openid": "openid-e2e-A", "invited_by": "e2e-B"})
    _send(
        stack,
        "referral_clicked",
        "e2e-click-C",
        NOW - timedelta(days=12),
        customer_id="e2e-C",
        affiliate_id="e2e-A",
        clicked_at=(NOW - timedelta(days=12)).isoformat(),
    )
    stack.wait_for(lambda: _call(stack, "GET", "/affiliate/customers", a), what="C bound to A")
    line = dict(
        sample_body("order_paid")["data"]["lines"][0],
        line_id="L1",
        paid_fen=10_000,
        payable_fen=10_000,
        discount_fen=0,
    )
    paid_at = NOW - timedelta(days=11)
    _send(
        stack,
        "order_paid",
        "e2e-paid-003",
        paid_at,
        order_id="E2E-003",
        customer_id="e2e-C",
        paid_at=paid_at.isoformat(),
        source={"scene": "share"},
        lines=[line],
    )

    a_orders = stack.wait_for(lambda: _call(stack, "GET", "/affiliate/orders", a), what="A's commission")
    b_orders = stack.wait_for(lambda: _call(stack, "GET", "/affiliate/orders", b), what="B's invite reward")
    assert [(o["role"], o["commission_fen"], o["state"]) for o in a_orders] == [
        ("commission", 1_000, "pending")
    ]
    assert [(o["role"], o["commission_fen"], o["affiliate_id"]) for o in b_orders] == [
        ("invite", 500, "e2e-A")
    ]
    assert _call(stack, "GET", "/affiliate/center", b)["promotion"]["invited_affiliates"] == 1
    assert [d["affiliate_id"] for d in _call(stack, "GET", "/affiliate/downline", b)] == ["e2e-A"]

    completed_at = NOW - timedelta(days=10)
    _send(
        stack,
        "order_completed",
        "e2e-completed-003",
        completed_at,
        order_id="E2E-003",
        completed_at=completed_at.isoformat(),
    )
    stack.wait_for(
        lambda: _call(stack, "GET", "/affiliate/orders", a)[0]["hold_until"], what="the hold's date"
    )
    fired = stack.command("fire", "LedgerSettlementFunction", "--at", NOW.isoformat())
    assert fired.returncode == 0, fired.stderr
    a_center = _call(stack, "GET", "/affiliate/center", a)["figures"]
    b_center = _call(stack, "GET", "/affiliate/center", b)["figures"]
    assert a_center["pending_settlement_fen"] == 1_000 and b_center["pending_settlement_fen"] == 500
    assert a_center["cumulative_rewards_fen"] == 1_000

    asked = _call(
        stack, "POST", "/affiliate/withdrawals", a, json={"amount_fen": 1_000, "request_id": "e2e-1"}
    )
    _call(stack, "POST", f"/admin/affiliates/withdrawals/{asked['withdrawal_id']}/approve", admin, json={})
    [waiting] = stack.wait_for(
        lambda: [
            w
            for w in _call(stack, "GET", "/affiliate/withdrawals", a)
            if w["status"] == "awaiting_confirmation"
        ],
        what="the transfer waiting for A's confirmation",
    )
    confirmed = requests.post(
        f"{stack.payments_url}/sandbox/transfer-bills/{asked['payout_id']}/confirm",
        json={"package": waiting["confirmation"]["package_info"]},
        timeout=10,
    )
    assert confirmed.status_code == 200, confirmed.text
    paid = stack.wait_for(
        lambda: [w for w in _call(stack, "GET", "/affiliate/withdrawals", a) if w["status"] == "paid"],
        what="the withdrawal paid by WeChat Pay",
    )
    assert paid[0]["payout_id"] == asked["payout_id"]
    assert _call(stack, "GET", "/affiliate/center", a)["balance"]["paid"] == 1_000
