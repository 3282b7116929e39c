"""Seed 001 §2.3.2 ①'s scenario over HTTP on the running stack: levels 1–4 by deal amount, level 5
manual, 6–8 by invited affiliates. An affiliate the merchant moves to level 5 by hand stays there
whatever their deal amount, and rises to 6, 7 and 8 as they invite affiliates; another rises by
deal amount within a 10-day period. Every change says why, to the merchant and to the affiliate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import LEVELS_TENANT, RunningStack
from tests.e2e.test_affiliates_seed_003 import SEED_003_PROGRAM, _call, _send
from tests.e2e.test_wecom_over_http import _token
from tests.support import sample_body

pytestmark = pytest.mark.e2e
NOW = datetime.now(UTC).replace(microsecond=0)


def _by_deal(name: str, yuan: int) -> dict[str, Any]:
    return {
        "name": name,
        "period_days": 10,
        "threshold": {"conditions": [{"metric": "deal_fen", "at_least": yuan * 100}]},
    }


def _by_invited(name: str, count: int) -> dict[str, Any]:
    return {"name": name, "threshold": {"conditions": [{"metric": "invited_affiliates", "at_least": count}]}}


LEVELS = {
    "levels": [
        {"name": "等级一", "strategy": "manual", "description": "每位微客从这里开始"},
        _by_deal("等级二", 1_000),
        _by_deal("等级三", 2_000),
        _by_deal("等级四", 5_000),
        {"name": "等级五", "strategy": "manual", "description": "新微客入驻计划"},
        _by_invited("等级六", 1),
        _by_invited("等级七", 2),
        _by_invited("等级八", 3),
    ]
}


def _deal(stack: RunningStack, affiliate: str, customer: str, order_id: str, fen: int) -> None:
    """``customer`` (bound to ``affiliate``) pays 11 days ago and receives the goods 10 days ago:
    with the program's 7-day window, the deal counts 3 days ago, inside a 10-day period."""
    clicked = NOW - timedelta(days=12)
    _send(
        stack,
        "referral_clicked",
        f"e2e-click-{customer}",
        clicked,
        customer_id=customer,
        affiliate_id=affiliate,
        clicked_at=clicked.isoformat(),
        tenant=LEVELS_TENANT,
    )
    line = dict(sample_body("order_paid")["data"]["lines"][0], line_id="L1", paid_fen=fen, payable_fen=fen)
    paid_at, completed_at = NOW - timedelta(days=11), NOW - timedelta(days=10)
    _send(
        stack,
        "order_paid",
        f"e2e-paid-{order_id}",
        paid_at,
        order_id=order_id,
        customer_id=customer,
        paid_at=paid_at.isoformat(),
        source={"scene": "share"},
        lines=[line],
        tenant=LEVELS_TENANT,
    )
    _send(
        stack,
        "order_completed",
        f"e2e-completed-{order_id}",
        completed_at,
        order_id=order_id,
        completed_at=completed_at.isoformat(),
        tenant=LEVELS_TENANT,
    )


def test_seed_001_moved_by_hand_to_level_5_rises_to_6_7_8_over_http(running_stack: RunningStack) -> None:
    stack = running_stack
    admin = _token(stack, "--corp", LEVELS_TENANT, "--role", "admin")
    x, y = (
        _token(stack, "--corp", LEVELS_TENANT, "--role", "affiliate", "--sub", who)
        for who in ("e2e-lv-X", "e2e-lv-Y")
    )
    _call(
        stack,
        "PUT",
        "/admin/affiliates/settings",
        admin,
        json=SEED_003_PROGRAM,
    )
    saved = _call(stack, "PUT", "/admin/affiliates/levels", admin, json=LEVELS)
    assert [row["name"] for row in saved["levels"]][4] == "等级五" and saved["version"] >= 1
    _call(stack, "POST", "/affiliate/application", x, json={"openid": "openid-e2e-lv-X"})
    _call(stack, "POST", "/affiliate/application", y, json={"openid": "openid-e2e-lv-Y"})

    moved = _call(
        stack,
        "PATCH",
        "/admin/affiliates/e2e-lv-X/level",
        admin,
        json={"rank": 5, "reason": "新微客入驻计划"},
    )
    assert (moved["rank"], moved["name"]) == (5, "等级五")

    _deal(stack, "e2e-lv-Y", "e2e-lv-CY", "E2E-LV-Y", 200_000)  # 2,000 yuan: levels 2 and 3 met
    _deal(stack, "e2e-lv-X", "e2e-lv-CX", "E2E-LV-X", 600_000)  # level 4 met, but X is at 5
    stack.wait_for(lambda: _call(stack, "GET", "/affiliate/level", y)["rank"] == 3, what="Y at level 3")
    y_why = _call(stack, "GET", "/admin/affiliates/e2e-lv-Y/level-history", admin)["changes"][0]
    assert (y_why["kind"], y_why["from_rank"], y_why["to_rank"]) == ("upgrade", 1, 3)
    assert y_why["threshold"]["conditions"][0]["value"] == 200_000
    today = (NOW + timedelta(hours=8)).date()  # merchant time; the assessment may run just after midnight
    assert y_why["threshold"]["window_to"] in {today.isoformat(), (today + timedelta(days=1)).isoformat()}
    assert y_why["trigger"]["source"] == "order:E2E-LV-Y"
    stack.wait_for(lambda: _call(stack, "GET", "/affiliate/orders", x), what="X's commission on the order")

    for number, rank in ((1, 6), (2, 7), (3, 8)):
        invited = _token(stack, "--corp", LEVELS_TENANT, "--role", "affiliate", "--sub", f"e2e-lv-Z{number}")
        _call(
            stack,
            "POST",
            "/affiliate/application",
            invited,
            json={"openid": f"openid-e2e-lv-Z{number}", "invited_by": "e2e-lv-X"},
        )
        assert _call(stack, "GET", "/affiliate/level", x)["rank"] == rank

    mine = _call(stack, "GET", "/affiliate/level", x)
    assert (mine["name"], mine["commission_rate_bp"], mine["rate_from"]) == ("等级八", 1000, "program")
    assert mine["next_levels"] == []
    changes = _call(stack, "GET", "/admin/affiliates/e2e-lv-X/level-history", admin)["changes"]
    assert [(c["kind"], c["to_rank"]) for c in changes] == [
        ("upgrade", 8),
        ("upgrade", 7),
        ("upgrade", 6),
        ("manual", 5),
        ("initial", 1),
    ]
    assert changes[3]["reason"] == "新微客入驻计划"
    assert changes[0]["threshold"]["conditions"][0] | {"product_ids": None} == {
        "metric": "invited_affiliates",
        "at_least": 3,
        "value": 3,
        "quota": 0,
        "remaining": 0,
        "met": True,
        "product_ids": None,
    }
    own = _call(stack, "GET", "/affiliate/level/history", x)["changes"]
    assert [c["to_rank"] for c in own] == [8, 7, 6, 5, 1] and own[3]["actor"] is None

    fired = stack.command("fire", "LevelMemberCountFunction")  # now: after the levels were saved
    assert fired.returncode == 0, fired.stderr
    counted = _call(stack, "GET", "/admin/affiliates/levels", admin)
    assert counted["members_counted_at"] is not None
    assert counted["levels"][7]["member_count"] >= 1 and counted["levels"][2]["member_count"] >= 1
