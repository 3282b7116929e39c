"""Seed 001 §2.3.3's single and cycle checks over HTTP on the running stack, time driven by
``fire LevelAssessmentFunction --at``: obtained on day D, a single check of 3 days looks at
D … D+2 and runs as D+3 begins; 10-day cycles run D … D+9, D+10 … D+19, each checked as the next
begins. Every downgrade says why, to the merchant and to the affiliate."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import DOWNGRADES_TENANT, RunningStack
from tests.e2e.test_affiliates_seed_003 import SEED_003_PROGRAM, _call, _send
from tests.e2e.test_wecom_over_http import _token
from tests.support import sample_body

pytestmark = pytest.mark.e2e
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _by_paid_orders(name: str, **level: Any) -> dict[str, Any]:
    return {"name": name, "threshold": {"conditions": [{"metric": "paid_orders", "at_least": 1}]}, **level}


def _begins(day: date, minutes: int = 0) -> datetime:
    """``minutes`` after ``day`` begins in the merchant's time zone."""
    return datetime.combine(day, time(), tzinfo=SHANGHAI).astimezone(UTC) + timedelta(minutes=minutes)


def _obtained(stack: RunningStack, admin: str, who: str) -> date:
    """The merchant's day the affiliate rose to their level (from the why of that change)."""
    risen = _call(stack, "GET", f"/admin/affiliates/{who}/level-history", admin)["changes"][0]
    return datetime.fromisoformat(risen["at"]).astimezone(SHANGHAI).date()


def _fire(stack: RunningStack, at: datetime) -> None:
    fired = stack.command("fire", "LevelAssessmentFunction", "--at", at.isoformat())
    assert fired.returncode == 0, fired.stderr


def _affiliate_with_a_paid_order(stack: RunningStack, admin: str, who: str, paid_at: datetime) -> str:
    """``who`` joins; their customer pays an order at ``paid_at``; the job assesses them now."""
    token = _token(stack, "--corp", DOWNGRADES_TENANT, "--role", "affiliate", "--sub", who)
    _call(stack, "POST", "/affiliate/application", token, json={"openid": f"openid-{who}"})
    customer = f"{who}-C"
    _send(
        stack,
        "referral_clicked",
        f"e2e-click-{customer}",
        paid_at - timedelta(hours=1),
        customer_id=customer,
        affiliate_id=who,
        clicked_at=(paid_at - timedelta(hours=1)).isoformat(),
        tenant=DOWNGRADES_TENANT,
    )
    line = dict(
        sample_body("order_paid")["data"]["lines"][0], line_id="L1", paid_fen=10_000, payable_fen=10_000
    )
    _send(
        stack,
        "order_paid",
        f"e2e-paid-{who}",
        paid_at,
        order_id=f"E2E-{who}",
        customer_id=customer,
        paid_at=paid_at.isoformat(),
        source={"scene": "share"},
        lines=[line],
        tenant=DOWNGRADES_TENANT,
    )

    def risen() -> bool:  # the order is applied in the background; the job then raises them
        _fire(stack, datetime.now(UTC))
        return bool(_call(stack, "GET", "/affiliate/level", token)["rank"] == 2)

    stack.wait_for(risen, timeout=60, what=f"{who} at level 2")
    return token


def test_single_check_x_3_obtained_on_d_checks_d_to_d_plus_2_and_downgrades_as_d_plus_3_begins(
    running_stack: RunningStack,
) -> None:
    stack = running_stack
    admin = _token(stack, "--corp", DOWNGRADES_TENANT, "--role", "admin")
    _call(stack, "PUT", "/admin/affiliates/settings", admin, json=SEED_003_PROGRAM)
    levels = {
        "levels": [{"name": "普通"}, _by_paid_orders("单次", downgrade={"kind": "single", "after_days": 3})]
    }
    _call(stack, "PUT", "/admin/affiliates/levels", admin, json=levels)
    now = datetime.now(UTC).replace(microsecond=0)
    token = _affiliate_with_a_paid_order(stack, admin, "e2e-single", now - timedelta(days=2))  # before D
    obtained = _obtained(stack, admin, "e2e-single")

    _fire(stack, _begins(obtained + timedelta(days=3), -1))
    assert _call(stack, "GET", "/affiliate/level", token)["rank"] == 2
    _fire(stack, _begins(obtained + timedelta(days=3), 1))
    assert _call(stack, "GET", "/affiliate/level", token)["rank"] == 1

    why = _call(stack, "GET", "/admin/affiliates/e2e-single/level-history", admin)["changes"][0]
    assert (why["kind"], why["check"], why["from_rank"], why["to_rank"]) == ("downgrade", "single", 2, 1)
    assert (why["threshold"]["window_from"], why["threshold"]["window_to"]) == (
        obtained.isoformat(),
        (obtained + timedelta(days=2)).isoformat(),
    )
    own = _call(stack, "GET", "/affiliate/level/history", token)["changes"][0]
    assert own["check"] == "single" and own["threshold"]["conditions"][0]["value"] == 0


def test_cycle_of_10_days_obtained_on_d_passes_d_to_d_plus_9_and_fails_d_plus_10_to_d_plus_19(
    running_stack: RunningStack,
) -> None:
    stack = running_stack
    admin = _token(stack, "--corp", DOWNGRADES_TENANT, "--role", "admin")
    _call(stack, "PUT", "/admin/affiliates/settings", admin, json=SEED_003_PROGRAM)
    levels = {
        "levels": [{"name": "普通"}, _by_paid_orders("循环", period_days=10, downgrade={"kind": "cycle"})]
    }
    _call(stack, "PUT", "/admin/affiliates/levels", admin, json=levels)
    now = datetime.now(UTC).replace(microsecond=0)
    token = _affiliate_with_a_paid_order(stack, admin, "e2e-cycle", now)
    obtained = _obtained(stack, admin, "e2e-cycle")

    _fire(stack, _begins(obtained + timedelta(days=10), 1))  # D … D+9 had the order
    assert _call(stack, "GET", "/affiliate/level", token)["rank"] == 2
    _fire(stack, _begins(obtained + timedelta(days=20), -1))
    assert _call(stack, "GET", "/affiliate/level", token)["rank"] == 2
    _fire(stack, _begins(obtained + timedelta(days=20), 1))  # D+10 … D+19 had none
    assert _call(stack, "GET", "/affiliate/level", token)["rank"] == 1

    why = _call(stack, "GET", "/admin/affiliates/e2e-cycle/level-history", admin)["changes"][0]
    assert (why["kind"], why["check"], why["to_rank"]) == ("downgrade", "cycle", 1)
    assert (why["threshold"]["window_from"], why["threshold"]["window_to"]) == (
        (obtained + timedelta(days=10)).isoformat(),
        (obtained + timedelta(days=19)).isoformat(),
    )
