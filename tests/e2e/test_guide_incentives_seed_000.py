"""Seed 000, one behaviour per test, through the HTTP APIs of the running stack; the WeCom sandbox pays."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from tests.e2e.conftest import RunningStack
from tests.e2e.test_payouts_over_http import _faults
from tests.e2e.test_wecom_over_http import _token
from tests.support import sample_body, signed_headers

pytestmark = pytest.mark.e2e


class Console:
    def __init__(self, stack: RunningStack) -> None:
        self.stack = stack
        self.admin = {"Authorization": f"Bearer {_token(stack, '--role', 'admin')}"}

    def call(self, method: str, path: str, token: dict[str, str] | None = None, **kwargs: Any) -> Any:
        response = requests.request(
            method, f"{self.stack.api_url}{path}", headers=token or self.admin, timeout=30, **kwargs
        )
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    def settings(self, method: str) -> None:
        self.call("PUT", "/admin/guide-incentives/settings", json={"payment_method": method})

    def rule(self, behavior: str, amount: int, limit: int | None = None) -> dict[str, Any]:
        rule: dict[str, Any] = self.call(
            "POST",
            "/admin/guide-incentives/rules",
            json={
                "name": behavior[:10],
                "behavior": behavior,
                "amount_fen": amount,
                "monthly_limit_fen": limit,
            },
        )
        return rule

    def behave(self, behavior: str, guide: str, event_id: str) -> None:
        body = sample_body("customer_behavior")
        now = datetime.now(UTC).isoformat()
        body.update(event_id=event_id, occurred_at=now)
        body["data"].update(behavior=behavior, guide_id=guide, occurred_at=now, customer_id=f"c-{event_id}")
        raw = json.dumps(body).encode()
        response = requests.post(
            f"{self.stack.api_url}/webhooks/orders", data=raw, headers=signed_headers(raw), timeout=10
        )
        assert response.status_code == 202, response.text

    def records(self, **query: str) -> dict[str, Any]:
        records: dict[str, Any] = self.call("GET", "/admin/guide-incentives/records", params=query)
        return records

    def wait_records(self, rule_id: str, count: int, status: str | None = None) -> list[dict[str, Any]]:
        def ready() -> list[dict[str, Any]] | None:
            items = self.records(rule_id=rule_id)["items"]
            done = [i for i in items if status is None or i["status"] == status]
            return items if len(done) >= count else None

        found: list[dict[str, Any]] = self.stack.wait_for(
            ready, timeout=60, what=f"{count} records of {rule_id}"
        )
        return found


@pytest.fixture(scope="module")
def console(running_stack: RunningStack) -> Console:
    console = Console(running_stack)
    assert running_stack.sync_org(console.admin)["state"] == "finished"
    return console


def test_online_payment_sends_rewards_to_the_guides_wallet_through_wecom_pay(console: Console) -> None:
    console.settings("online")
    rule = console.rule("seed000_online", 1_000)
    console.behave("seed000_online", "zhangwei", "s0-online-1")
    [record] = console.wait_records(rule["rule_id"], 1, "paid")
    assert record["payment_method"] == "online" and record["transaction_id"]
    made = requests.get(f"{console.stack.payments_url}/sandbox/transfers", timeout=10).json()["transfers"]
    assert any(t["amount_fen"] == 1_000 and t["openid"].startswith("oWeCom-") for t in made)


def test_offline_payment_only_records_the_amount(console: Console) -> None:
    console.settings("offline")
    rule = console.rule("seed000_offline", 700)
    before = len(
        requests.get(f"{console.stack.payments_url}/sandbox/transfers", timeout=10).json()["transfers"]
    )
    console.behave("seed000_offline", "lifang", "s0-offline-1")
    [record] = console.wait_records(rule["rule_id"], 1, "recorded")
    assert (record["amount_fen"] == 700 and record["transaction_id"] is None) or record[
        "status"
    ] == "recorded"
    after = len(
        requests.get(f"{console.stack.payments_url}/sandbox/transfers", timeout=10).json()["transfers"]
    )
    assert after == before


def test_the_list_shows_the_default_templates_and_custom_rules_which_can_be_switched(
    console: Console,
) -> None:
    console.rule("seed000_listed", 100)
    rules = console.call("GET", "/admin/guide-incentives/rules")
    behaviors = [r["behavior"] for r in rules]
    assert behaviors[:2] == ["coupon_redemption", "new_customer"] and "custom:seed000_listed" in behaviors
    listed = next(r for r in rules if r["behavior"] == "custom:seed000_listed")
    off = console.call("PATCH", f"/admin/guide-incentives/rules/{listed['rule_id']}", json={"enabled": False})
    assert off["enabled"] is False and off["amount_fen"] == 100


def test_a_custom_rule_pays_per_behaviour_up_to_its_monthly_limit(console: Console) -> None:
    console.settings("offline")
    rule = console.rule("seed000_limit", 200, 500)
    for n in range(4):
        console.behave("seed000_limit", "wangqiang", f"s0-limit-{n}")
    console.wait_records(rule["rule_id"], 3)
    time.sleep(2)  # the fourth occurrence is counted but rewards nothing
    assert sorted(r["amount_fen"] for r in console.records(rule_id=rule["rule_id"])["items"]) == [
        100,
        200,
        200,
    ]


def test_editing_an_active_rule_restarts_the_guides_data_and_the_preview_tells_the_outcome(
    console: Console,
) -> None:
    console.settings("offline")
    rule = console.rule("seed000_edit", 200, 400)
    for n in range(2):
        console.behave("seed000_edit", "chenjing", f"s0-edit-a{n}")
    console.wait_records(rule["rule_id"], 2)
    edit = {"amount_fen": 300, "monthly_limit_fen": 500}
    preview = console.call("POST", f"/admin/guide-incentives/rules/{rule['rule_id']}/preview", json=edit)
    assert (preview["produced_fen"], preview["would_produce_fen"]) == (400, 500)
    assert console.call("PUT", f"/admin/guide-incentives/rules/{rule['rule_id']}", json=edit)["version"] == 2
    for n in range(2):
        console.behave("seed000_edit", "chenjing", f"s0-edit-b{n}")
    items = console.wait_records(rule["rule_id"], 4)
    assert sum(i["amount_fen"] for i in items if i["version"] == 2) == preview["would_produce_fen"]
    assert sorted(i["amount_fen"] for i in items if i["version"] == 1) == [200, 200]


def test_records_have_an_overview_and_can_be_searched(console: Console) -> None:
    console.settings("offline")
    rule = console.rule("seed000_records", 150)
    console.behave("seed000_records", "zhangwei", "s0-rec-1")
    console.behave("seed000_records", "chenjing", "s0-rec-2")
    console.wait_records(rule["rule_id"], 2)
    body = console.records(rule_id=rule["rule_id"], outlet_id="31")
    assert [i["guide_id"] for i in body["items"]] == ["chenjing"]
    assert body["overview"]["total_paid_fen"] == 150
    south = {"Authorization": f"Bearer {_token(console.stack, '--role', 'operator', '--dept', '3')}"}
    scoped = console.call(
        "GET", "/admin/guide-incentives/records", token=south, params={"rule_id": rule["rule_id"]}
    )
    assert [i["guide_id"] for i in scoped["items"]] == ["chenjing"]


def test_a_failed_online_payment_shows_its_reason(console: Console) -> None:
    console.settings("online")
    rule = console.rule("seed000_failed", 900)
    _faults(console.stack, "pay", ["NOTENOUGH"])
    console.behave("seed000_failed", "lifang", "s0-failed-1")
    [record] = console.wait_records(rule["rule_id"], 1, "failed")
    assert record["failure_reason"] == "余额不足"


def test_guides_see_active_programs_their_rules_and_this_months_earnings(console: Console) -> None:
    console.settings("offline")
    rule = console.rule("seed000_home", 250)
    console.behave("seed000_home", "wangqiang", "s0-home-1")
    console.wait_records(rule["rule_id"], 1)
    guide = {"Authorization": f"Bearer {_token(console.stack, '--role', 'guide', '--sub', 'wangqiang')}"}
    home = console.call("GET", "/guide/incentives", token=guide)
    assert "custom:seed000_home" in [p["behavior"] for p in home["programs"]]
    assert home["this_month_fen"] >= 250 and home["total_fen"] >= home["this_month_fen"]


def test_guides_see_total_earnings_and_filter_records_by_type_and_payment_date(console: Console) -> None:
    console.settings("offline")
    rule = console.rule("seed000_mine", 120)
    console.behave("seed000_mine", "chenjing", "s0-mine-1")
    console.wait_records(rule["rule_id"], 1)
    guide = {"Authorization": f"Bearer {_token(console.stack, '--role', 'guide', '--sub', 'chenjing')}"}
    typed = console.call("GET", "/guide/rewards", token=guide, params={"type": "custom:seed000_mine"})
    assert [r["amount_fen"] for r in typed] == [120]
    later = console.call("GET", "/guide/rewards", token=guide, params={"paid_from": "2099-01-01T00:00:00Z"})
    assert later == []
    assert all(r["guide_id"] == "chenjing" for r in console.call("GET", "/guide/rewards", token=guide))


def test_a_new_customer_and_a_redeemed_coupon_reward_the_guide(console: Console) -> None:
    console.settings("offline")
    for template, amount in (("new_customer", 500), ("coupon_redemption", 300)):
        console.call("PUT", f"/admin/guide-incentives/rules/{template}", json={"amount_fen": amount})
        console.call("PATCH", f"/admin/guide-incentives/rules/{template}", json={"enabled": True})
    way = console.call("POST", "/admin/outlets/22/contact-way", json={})
    scan = requests.post(
        f"{console.stack.wecom_url}/sandbox/wecom/scan",
        timeout=60,
        json={"config_id": way["config_id"], "unionid": "oUnion-seed000", "deliveries": 3},
    ).json()
    assert scan["delivered"] == [200, 200, 200]
    [new] = console.wait_records("new_customer", 1)
    assert (new["guide_id"], new["amount_fen"], new["customer_id"]) == ("wangqiang", 500, "oUnion-seed000")
    coupon = sample_body("coupon_redeemed")
    coupon.update(event_id="s0-coupon-1")
    coupon["data"].update(
        coupon_code="CPN-S0-1", guide_id="wangqiang", customer_id="oUnion-seed000"
    )  # a coupon pays once: its own
    raw = json.dumps(coupon).encode()
    assert (
        requests.post(
            f"{console.stack.api_url}/webhooks/orders", data=raw, headers=signed_headers(raw), timeout=10
        ).status_code
        == 202
    )
    [redeemed] = console.wait_records("coupon_redemption", 1)
    assert (redeemed["guide_id"], redeemed["amount_fen"]) == ("wangqiang", 300)
