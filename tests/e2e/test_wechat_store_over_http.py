"""The WeChat Store worked example on the running local stack (README, "WeChat Store connector").

The store sandbox pushes orders of each scene through the gateway, the product reads them with
``order/get``; the orders complete, their after-sales window closes, the store settles them and
publishes the funds flows — one order charged the standard fee instead of the plan's 1 % — and the
daily pull keeps them. With the subsidy ledger present, the reconciliation shows exactly that order
as ``differs`` with both figures.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from tests.e2e.conftest import RunningStack
from tests.support import token_for

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": f"Bearer {token_for('admin')}"}
PAID_AT = int(datetime(2026, 9, 10, 4, 0, tzinfo=UTC).timestamp())  # inside a September campaign
SETTLED_AT = int(datetime(2026, 9, 22, 2, 0, tzinfo=UTC).timestamp())  # 2026-09-22 10:00 in Shanghai
SETTLED_DAY = "2026-09-22"  # not the README's day: the stack is shared by the session
PRICE_FEN = 20_000
PLAN_FEE_FEN = 200  # 1 % of 200.00 yuan
STANDARD_FEE_FEN = 1_000  # the category's standard 5 %
SCENES = ["wecom_share", "official_account", "mini_program", "live", "promoter"]
IN_PLAN = {"wecom_share", "official_account", "mini_program"}
"""A live-room order is not one of the plan's scenes by itself (a live *reservation* is, and the
store does not say so); promoter orders are excluded: both pay the standard fee."""
OVER_CHARGED = "official_account"


def _fee(scene: str) -> int:
    """What the store sandbox charges: the plan's 1 % in the plan, except the one over-charged order."""
    return PLAN_FEE_FEN if scene in IN_PLAN and scene != OVER_CHARGED else STANDARD_FEE_FEN


def _store(stack: RunningStack, path: str, body: dict[str, Any] | None = None) -> Any:
    answer = requests.post(f"{stack.store_url}{path}", json=body or {}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _console(stack: RunningStack, path: str, **params: str) -> requests.Response:
    return requests.get(f"{stack.api_url}/admin/wechat-store{path}", params=params, headers=ADMIN, timeout=30)


def _orders_of_every_scene(stack: RunningStack) -> dict[str, str]:
    """One paid order per scene, pushed by the store; returns scene → order id once the product read each."""
    _store(stack, "/sandbox/reset")
    orders = {}
    for n, scene in enumerate(SCENES, start=1):
        product = {
            "product_id": f"p-{scene}",
            "sku_id": f"s-{scene}",
            "price_fen": PRICE_FEN,
            "category": ["服饰", "女装"],
        }
        created = _store(
            stack,
            "/sandbox/wechat-store/orders",
            {"scenes": [scene], "products": [product], "pay_time": PAID_AT + n},
        )
        assert created["delivered"] == [200], created
        orders[scene] = created["order_id"]

    def all_read() -> bool:
        return all(_console(stack, f"/orders/{order_id}").status_code == 200 for order_id in orders.values())

    stack.wait_for(all_read, timeout=60, what="the product to read every pushed order")
    return orders


def test_pushed_orders_of_every_scene_are_read_and_their_settled_fees_pulled(
    running_stack: RunningStack,
) -> None:
    stack = running_stack
    orders = _orders_of_every_scene(stack)
    for scene, order_id in orders.items():
        view = _console(stack, f"/orders/{order_id}").json()
        assert [signal["kind"] for signal in view["signals"]] == [scene], view
        assert view["emitted_event_ids"] == [f"wxs-{order_id}-paid"]
    for scene, order_id in orders.items():
        _store(stack, f"/sandbox/wechat-store/orders/{order_id}/confirm", {"confirm_time": PAID_AT + 86_400})
        settle = {"fee_fen": _fee(scene), "settle_time": SETTLED_AT}
        _store(stack, f"/sandbox/wechat-store/orders/{order_id}/settle", settle)
    fired = stack.command("fire", "StoreFlowsFunction", "--at", "2026-09-23T02:00:00Z")
    assert fired.returncode == 0, fired.stderr
    flows = _console(stack, "/flows", day=SETTLED_DAY).json()
    charged = {
        flow["order_id"]: flow["amount_fen"] for flow in flows["flows"] if flow["order_id"] in orders.values()
    }
    assert charged == {order_id: _fee(scene) for scene, order_id in orders.items()}


def test_the_reconciliation_shows_exactly_the_over_charged_order_as_differs(
    running_stack: RunningStack,
) -> None:
    stack = running_stack
    campaign = requests.post(
        f"{stack.api_url}/admin/subsidy/campaigns",
        headers=ADMIN,
        timeout=30,
        json={
            "campaign_id": "e2e-wxs-2026-09",  # the only campaign of September on the shared stack
            "name": "私域激励计划 9 月",
            "starts_on": "2026-09-01",
            "ends_on": "2026-09-30",
            "enrolment": {"signed_up_on": "2026-09-01", "rating_at_sign_up": 4.8},
            "default_standard_rate_ppm": 50_000,
        },
    )
    assert campaign.status_code in (200, 201), campaign.text
    orders = _orders_of_every_scene(stack)
    over_charged = orders[OVER_CHARGED]
    for order_id in orders.values():
        _store(stack, f"/sandbox/wechat-store/orders/{order_id}/confirm", {"confirm_time": PAID_AT + 86_400})
    fired = stack.command(
        "fire", "AfterSalesWindowFunction", "--at", "2026-09-22T01:00:00Z"
    )  # the windows close
    assert fired.returncode == 0, fired.stderr
    for scene, order_id in orders.items():
        fee = _fee(scene)
        _store(
            stack,
            f"/sandbox/wechat-store/orders/{order_id}/settle",
            {"fee_fen": fee, "settle_time": SETTLED_AT},
        )
    fired = stack.command("fire", "StoreFlowsFunction", "--at", "2026-09-23T02:00:00Z")
    assert fired.returncode == 0, fired.stderr

    report = _console(stack, "/reconciliation", day=SETTLED_DAY).json()
    mine = [row for row in report["rows"] if row["order_id"] in orders.values()]  # the stack is shared
    differs = [row for row in mine if row["bucket"] == "differs"]
    assert [(row["order_id"], row["expected_fee_fen"], row["charged_fee_fen"]) for row in differs] == [
        (over_charged, PLAN_FEE_FEN, STANDARD_FEE_FEN)
    ], report
    assert differs[0]["scene"] == OVER_CHARGED and differs[0]["evidence"], differs
    assert {row["bucket"] for row in mine} == {"matched", "differs"}, report
    csv = _console(stack, "/reconciliation", day=SETTLED_DAY, format="csv")
    assert csv.status_code == 200 and over_charged in csv.text
