"""Guide incentive programs (seed 000) through the admin and guide APIs, triggers via the processor."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from incentives.runtime import wiring
from tests.conftest import StackHandle
from tests.integration.test_org_tags_guides import _call, _contact_way, _scan, _synced
from tests.support import sample_body, token_for, webhook_event

ADMIN, GUIDE = "AdminApiFunction", "GuideApiFunction"


def _admin() -> str:
    return token_for("admin")


def _behavior(
    stack: StackHandle, event_id: str, at: str, guide: str = "zhangwei", behavior: str = "store_visit"
) -> None:
    body = sample_body("customer_behavior")
    body.update(event_id=event_id, occurred_at=at)
    body["data"].update(behavior=behavior, occurred_at=at, guide_id=guide, customer_id=f"c-{event_id}")
    assert stack.invoke("OrderWebhookFunction", webhook_event(body))["statusCode"] == 202
    stack.process_queue()


def _this_month_so_far() -> tuple[datetime, datetime]:
    """(the start of the current month in Shanghai, now), at least a minute from the month's end
    (the test waits out the last minute), so events between them stay in this month."""
    shanghai = ZoneInfo("Asia/Shanghai")
    while True:
        now = datetime.now(UTC)
        local = now.astimezone(shanghai)
        nxt = (local.replace(day=28) + timedelta(days=4)).replace(
            day=1, hour=0, minute=0, second=0, microsecond=0
        )
        if nxt - local > timedelta(minutes=1):
            return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC), now
        time.sleep((nxt - local).total_seconds() + 1)


def _rule(stack: StackHandle, amount: int = 200, limit: int | None = 500) -> dict[str, Any]:
    status, rule = _call(
        stack,
        ADMIN,
        "POST",
        "/admin/guide-incentives/rules",
        _admin(),
        json={
            "name": "到店打卡",
            "behavior": "store_visit",
            "amount_fen": amount,
            "monthly_limit_fen": limit,
        },
    )
    assert status == 200, rule
    return rule


def _records(stack: StackHandle, token: str | None = None, **query: str) -> dict[str, Any]:
    status, body = _call(
        stack,
        ADMIN,
        "GET",
        "/admin/guide-incentives/records",
        token or _admin(),
        query={k: [v] for k, v in query.items()},
    )
    assert status == 200, body
    return body


def test_online_payment_is_refused_until_wecom_pay_is_configured(
    stack: StackHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wiring, "wecom_pay_configured", lambda corp_id: False)
    status, body = _call(
        stack, ADMIN, "PUT", "/admin/guide-incentives/settings", _admin(), json={"payment_method": "online"}
    )
    assert status == 400 and body["error"]["field"] == "payment_method"
    assert (
        stack.status(
            ADMIN, "PUT", "/admin/guide-incentives/settings", _admin(), json={"payment_method": "offline"}
        )
        == 200
    )


def test_the_templates_are_listed_next_to_custom_rules(stack: StackHandle) -> None:
    _rule(stack)
    _, rules = _call(stack, ADMIN, "GET", "/admin/guide-incentives/rules", _admin())
    assert [(r["behavior"], r["template"]) for r in rules] == [
        ("coupon_redemption", True),
        ("new_customer", True),
        ("custom:store_visit", False),
    ]


def test_a_limit_of_500_pays_200_200_100_then_nothing_and_resumes_next_month(stack: StackHandle) -> None:
    _synced(stack)
    _rule(stack)
    for n, at in enumerate(
        [
            "2026-11-02T10:00:00+08:00",
            "2026-11-03T10:00:00+08:00",
            "2026-11-04T10:00:00+08:00",
            "2026-11-30T23:30:00+08:00",
        ]
    ):
        _behavior(stack, f"visit-{n}", at)
    amounts = sorted(r["amount_fen"] for r in _records(stack)["items"])
    assert amounts == [100, 200, 200]
    _behavior(stack, "visit-dec", "2026-12-01T00:10:00+08:00")  # a new month in Shanghai
    body = _records(stack)
    assert sorted(r["amount_fen"] for r in body["items"]) == [100, 200, 200, 200]
    assert body["overview"]["total_paid_fen"] == 700
    [(rule_id, total)] = body["overview"]["paid_by_rule_fen"].items()
    assert total == 700 and body["overview"]["rule_names"] == {rule_id: "到店打卡"}
    assert {r["status"] for r in body["items"]} == {"recorded"}


def test_each_source_event_rewards_once(stack: StackHandle) -> None:
    _synced(stack)
    _rule(stack, limit=None)
    for _ in range(3):
        _behavior(stack, "visit-same", "2026-11-02T10:00:00+08:00")
    assert len(_records(stack)["items"]) == 1


def test_online_rewards_are_paid_through_wecom_pay(stack: StackHandle) -> None:
    _synced(stack)
    assert (
        stack.status(
            ADMIN, "PUT", "/admin/guide-incentives/settings", _admin(), json={"payment_method": "online"}
        )
        == 200
    )
    _rule(stack, amount=1_000, limit=None)
    _behavior(stack, "visit-online", "2026-11-02T10:00:00+08:00")
    assert [r["status"] for r in _records(stack)["items"]] == ["pending"]
    stack.feed("PayoutWorkerFunction", "PayoutQueue")
    [record] = _records(stack)["items"]
    assert record["status"] == "paid" and record["transaction_id"]
    [transfer] = stack.payments.transfers_made()
    assert transfer["amount_fen"] == 1_000 and transfer["openid"].startswith("oWeCom-")


def test_new_customers_pay_once_whatever_happens_to_the_contact(stack: StackHandle) -> None:
    _synced(stack)
    _call(
        stack,
        ADMIN,
        "PUT",
        "/admin/guide-incentives/rules/{rule_id}",
        _admin(),
        path_parameters={"rule_id": "new_customer"},
        json={"amount_fen": 300},
    )
    _call(
        stack,
        ADMIN,
        "PATCH",
        "/admin/guide-incentives/rules/{rule_id}",
        _admin(),
        path_parameters={"rule_id": "new_customer"},
        json={"enabled": True},
    )
    way = _contact_way(stack, "21")
    _scan(stack, way["config_id"], "oUnion-N", userid="zhangwei")
    _scan(stack, way["config_id"], "oUnion-N", userid="lifang")  # moved to another guide
    _scan(stack, way["config_id"], "oUnion-N", userid="zhangwei")  # re-added
    records = _records(stack)["items"]
    assert [(r["guide_id"], r["amount_fen"], r["behavior"]) for r in records] == [
        ("zhangwei", 300, "new_customer")
    ]


def test_an_edit_mid_month_restarts_the_limit_and_the_preview_matches(stack: StackHandle) -> None:
    month_start, now = _this_month_so_far()
    _synced(stack)
    rule = _rule(stack, amount=200, limit=500)
    for n in range(3):  # late events of this month, from before the rule's creation: its first version
        _behavior(stack, f"before-{n}", (month_start + (now - month_start) * (n + 1) / 4).isoformat())
    edit = {"amount_fen": 150, "monthly_limit_fen": 400}
    _, preview = _call(
        stack,
        ADMIN,
        "POST",
        "/admin/guide-incentives/rules/{rule_id}/preview",
        _admin(),
        path_parameters={"rule_id": rule["rule_id"]},
        json=edit,
    )
    assert preview["produced_fen"] == 500
    would = preview["would_produce_fen"]
    assert would == 400  # 150 + 150 + 100 under the edit, from zero
    status, edited = _call(
        stack,
        ADMIN,
        "PUT",
        "/admin/guide-incentives/rules/{rule_id}",
        _admin(),
        path_parameters={"rule_id": rule["rule_id"]},
        json=edit,
    )
    assert status == 200 and edited["version"] == 2
    before = sorted(r["amount_fen"] for r in _records(stack)["items"])
    after_edit = datetime.fromisoformat(edited["effective_from"].replace("Z", "+00:00"))
    for n in range(3):  # as many behaviors again, after the edit: the new version, its limit from zero
        _behavior(stack, f"after-{n}", (after_edit + timedelta(milliseconds=n + 1)).isoformat())
    after = [r for r in _records(stack)["items"] if r["version"] == 2]
    assert sum(r["amount_fen"] for r in after) == would
    assert sorted(r["amount_fen"] for r in _records(stack)["items"] if r["version"] == 1) == before


def test_a_late_event_is_priced_by_the_version_in_force_when_it_occurred(stack: StackHandle) -> None:
    _synced(stack)
    rule = _rule(stack, amount=200, limit=None)
    status, edited = _call(
        stack,
        ADMIN,
        "PUT",
        "/admin/guide-incentives/rules/{rule_id}",
        _admin(),
        path_parameters={"rule_id": rule["rule_id"]},
        json={"amount_fen": 300, "monthly_limit_fen": None},
    )
    assert status == 200
    edited_at = datetime.fromisoformat(edited["effective_from"].replace("Z", "+00:00"))
    _behavior(stack, "late-v1", (edited_at - timedelta(milliseconds=1)).isoformat())  # arrives after the edit
    _behavior(stack, "on-v2", (edited_at + timedelta(milliseconds=1)).isoformat())
    _behavior(stack, "older-than-the-rule", "2026-01-05T10:00:00+08:00")  # its first version's terms
    by_event = {r["source_event_id"]: (r["version"], r["amount_fen"]) for r in _records(stack)["items"]}
    assert by_event == {"late-v1": (1, 200), "on-v2": (2, 300), "older-than-the-rule": (1, 200)}


def test_records_filter_and_scope_and_export(stack: StackHandle) -> None:
    _synced(stack)
    _rule(stack, limit=None)
    _behavior(stack, "v-zhang", "2026-11-02T10:00:00+08:00", guide="zhangwei")
    _behavior(stack, "v-chen", "2026-11-03T10:00:00+08:00", guide="chenjing")
    assert [r["guide_id"] for r in _records(stack, guide_id="chenjing")["items"]] == ["chenjing"]
    assert [r["outlet_id"] for r in _records(stack, outlet_id="21")["items"]] == ["21"]
    assert len(_records(stack, **{"from": "2026-11-03T00:00:00+08:00"})["items"]) == 1
    south = token_for("operator", "ops-south", dept_ids=("3",))
    assert [r["guide_id"] for r in _records(stack, south)["items"]] == ["chenjing"]
    assert (
        _call(stack, ADMIN, "GET", "/admin/guide-incentives/records", _admin(), query={"status": ["lost"]})[
            1
        ]["error"]["field"]
        == "status"
    )
    response = stack.invoke(
        ADMIN,
        __import__("tests.support", fromlist=["api_event"]).api_event(
            "GET", "/admin/guide-incentives/records", token=_admin(), query={"format": ["csv"]}
        ),
    )
    assert response["statusCode"] == 200 and response["body"].lstrip("\ufeff").startswith("reward_id,")
    assert len(response["body"].strip().splitlines()) == 3


def test_a_guide_sees_programs_earnings_and_only_their_own_records(stack: StackHandle) -> None:
    _synced(stack)
    _rule(stack, limit=None)
    _behavior(stack, "v-1", "2026-11-02T10:00:00+08:00", guide="zhangwei")
    _behavior(stack, "v-2", "2026-11-02T11:00:00+08:00", guide="lifang")
    zhang = token_for("guide", "zhangwei")
    _, mine = _call(stack, GUIDE, "GET", "/guide/incentives", zhang)
    assert [p["behavior"] for p in mine["programs"]] == ["custom:store_visit"]
    assert mine["total_fen"] == 200
    _, rewards = _call(stack, GUIDE, "GET", "/guide/rewards", zhang)
    assert [r["guide_id"] for r in rewards] == ["zhangwei"]
    assert _call(stack, GUIDE, "GET", "/guide/rewards", zhang, query={"type": ["new_customer"]})[1] == []
    assert json.dumps(rewards).count("lifang") == 0


def test_records_are_paginated_and_a_rule_has_its_details(stack: StackHandle) -> None:
    _synced(stack)
    rule = _rule(stack, limit=None)
    for n in range(5):
        _behavior(stack, f"page-{n}", f"2026-11-0{n + 1}T10:00:00+08:00")
    seen, cursor = [], None
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = _records(stack, **query)
        assert page["overview"]["records"] == 5
        seen += [item["source_event_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"page-{n}" for n in reversed(range(5))]
    assert (
        _call(stack, ADMIN, "GET", "/admin/guide-incentives/records", _admin(), query={"cursor": ["zz"]})[1][
            "error"
        ]["field"]
        == "cursor"
    )
    status, details = _call(
        stack,
        ADMIN,
        "GET",
        "/admin/guide-incentives/rules/{rule_id}",
        _admin(),
        path_parameters={"rule_id": rule["rule_id"]},
    )
    assert status == 200 and details["versions"][0]["amount_fen"] == 200
    assert (
        stack.status(
            ADMIN,
            "GET",
            "/admin/guide-incentives/rules/{rule_id}",
            _admin(),
            path_parameters={"rule_id": "nope"},
        )
        == 404
    )


def _edit(stack: StackHandle, rule_id: str, **edit: Any) -> dict[str, Any]:
    status, edited = _call(
        stack,
        ADMIN,
        "PUT",
        "/admin/guide-incentives/rules/{rule_id}",
        _admin(),
        path_parameters={"rule_id": rule_id},
        json=edit,
    )
    assert status == 200, edited
    return edited


def test_per_rule_totals_are_keyed_by_rule_not_by_name(stack: StackHandle) -> None:
    """Renaming a rule keeps one total; two rules of one name keep two (seed 000 overview)."""
    _synced(stack)
    first = _rule(stack, amount=200, limit=None)
    _behavior(stack, "visit-1", datetime.now(UTC).isoformat())
    _edit(stack, first["rule_id"], name="进店", amount_fen=200, monthly_limit_fen=None)
    _behavior(stack, "visit-2", datetime.now(UTC).isoformat())
    status, second = _call(
        stack,
        ADMIN,
        "POST",
        "/admin/guide-incentives/rules",
        _admin(),
        json={"name": "进店", "behavior": "scan_code", "amount_fen": 50, "monthly_limit_fen": None},
    )
    assert status == 200, second
    _behavior(stack, "scan-1", datetime.now(UTC).isoformat(), behavior="scan_code")
    overview = _records(stack)["overview"]
    assert overview["paid_by_rule_fen"] == {first["rule_id"]: 400, second["rule_id"]: 50}
    assert overview["rule_names"] == {first["rule_id"]: "进店", second["rule_id"]: "进店"}


def _coupon(stack: StackHandle, event_id: str, code: str) -> None:
    body = sample_body("coupon_redeemed")
    now = datetime.now(UTC).isoformat()
    body.update(event_id=event_id, occurred_at=now)
    body["data"].update(coupon_code=code, guide_id="zhangwei", redeemed_at=now)
    assert stack.invoke("OrderWebhookFunction", webhook_event(body))["statusCode"] == 202
    stack.process_queue()


def test_a_coupon_pays_once_whatever_event_ids_its_redemption_arrives_under(stack: StackHandle) -> None:
    _synced(stack)
    _edit(stack, "coupon_redemption", amount_fen=300, monthly_limit_fen=None)
    status, rule = _call(
        stack,
        ADMIN,
        "PATCH",
        "/admin/guide-incentives/rules/{rule_id}",
        _admin(),
        path_parameters={"rule_id": "coupon_redemption"},
        json={"enabled": True},
    )
    assert status == 200 and rule["enabled"], rule
    _coupon(stack, "redeem-a", "CPN-ONCE")
    _coupon(stack, "redeem-b", "CPN-ONCE")  # the same coupon, another event id
    _coupon(stack, "redeem-c", "CPN-OTHER")
    rewards = [r for r in _records(stack)["items"] if r["behavior"] == "coupon_redemption"]
    assert sorted(r["amount_fen"] for r in rewards) == [300, 300]
    assert {r["source_event_id"] for r in rewards} == {"redeem-a", "redeem-c"}


def test_a_reward_below_wecom_pays_minimum_is_carried_into_the_next_online_payment(
    stack: StackHandle,
) -> None:
    """WeCom Pay refuses a single payment below 1 yuan: 60 fen waits, the next 60 pays 120 in one."""
    _synced(stack)
    assert (
        stack.status(
            ADMIN, "PUT", "/admin/guide-incentives/settings", _admin(), json={"payment_method": "online"}
        )
        == 200
    )
    status, settings = _call(stack, ADMIN, "GET", "/admin/guide-incentives/settings", _admin())
    assert status == 200 and settings["minimum_online_payment_fen"] == 100
    _rule(stack, amount=60, limit=None)
    _behavior(stack, "small-1", datetime.now(UTC).isoformat())
    [carried] = _records(stack)["items"]
    assert carried["status"] == "carried" and carried["amount_fen"] == 60
    assert _records(stack)["overview"]["carried_fen"] == 60
    _behavior(stack, "small-2", datetime.now(UTC).isoformat())
    stack.feed("PayoutWorkerFunction", "PayoutQueue")
    paying = next(r for r in _records(stack)["items"] if r["source_event_id"] == "small-2")
    assert paying["status"] == "paid" and paying["amount_fen"] == 60 and paying["carried_in_fen"] == 60
    [transfer] = stack.payments.transfers_made()
    assert transfer["amount_fen"] == 120  # one payment, at or above the minimum; no AMOUNT_LIMIT failure
    assert _records(stack)["overview"]["total_paid_fen"] == 120
    status, home = _call(
        stack, "GuideApiFunction", "GET", "/guide/incentives", token_for("guide", subject="zhangwei")
    )
    assert status == 200 and home["carried_fen"] == 0
