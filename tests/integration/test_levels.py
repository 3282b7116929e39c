"""Affiliate levels on the handlers over the local endpoint: the console's level settings, manual
changes with their reason, upgrades with their why, the affiliate's "what do I need", and the two
scheduled jobs (seed 001 §2.3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import StackHandle
from tests.integration.test_affiliates import (
    ADMIN_API,
    CENTER_API,
    NOW,
    admin,
    call,
    click,
    complete,
    configure,
    join,
    mine,
    pay,
)
from tests.support import token_for


def _by(metric: str, at_least: int, **level: Any) -> dict[str, Any]:
    return {"threshold": {"conditions": [{"metric": metric, "at_least": at_least}]}, **level}


SEED_SCENARIO = {
    "levels": [
        {"name": "等级一", "strategy": "manual", "description": "每位微客从这里开始"},
        _by("deal_fen", 100_000, name="等级二", commission_rate_bp=1200),
        _by("deal_fen", 200_000, name="等级三", commission_rate_bp=1500),
        _by("deal_fen", 500_000, name="等级四", commission_rate_bp=1800),
        {"name": "等级五", "strategy": "manual"},
        _by("invited_affiliates", 1, name="等级六"),
        _by("invited_affiliates", 2, name="等级七"),
        _by("invited_affiliates", 3, name="等级八"),
    ]
}


def _fire(stack: StackHandle, function: str, when: datetime) -> Any:
    return stack.fire(function, when)


def test_bad_level_settings_are_refused_naming_the_field_and_change_nothing(stack: StackHandle) -> None:
    token = token_for("admin")
    for levels, field in (
        ([{"name": "七个字的等级名"}], "levels.0.name"),
        ([{"name": "一"}, _by("paid_orders", 1, name="二", strategy="manual")], "levels.1.threshold"),
        ([{"name": "一"}, _by("paid_orders", 0, name="二")], "levels.1.threshold.conditions.0.at_least"),
        ([{"name": "一"}, {"name": "二"}], "levels.1.threshold"),
        ([], "levels"),
    ):
        status, body = call(
            stack, ADMIN_API, "PUT", "/admin/affiliates/levels", token, json={"levels": levels}
        )
        assert (status, body["error"]["field"]) == (400, field), body
    assert admin(stack, "GET", "/admin/affiliates/levels") == {
        "version": 0,
        "show_description": True,
        "updated_at": None,
        "members_counted_at": None,
        "levels": [],
    }


def test_the_console_sets_levels_and_counts_their_members_every_2_hours(stack: StackHandle) -> None:
    configure(stack)
    join(stack, "A")
    saved = admin(stack, "PUT", "/admin/affiliates/levels", json=SEED_SCENARIO)
    assert saved["version"] == 1
    assert [(row["rank"], row["name"], row["strategy"]) for row in saved["levels"]][4] == (
        5,
        "等级五",
        "manual",
    )
    assert saved["levels"][0]["background_is_default"] is True
    assert saved["levels"][0]["member_count"] is None  # not counted yet
    assert _fire(stack, "LevelMemberCountFunction", NOW)["tenants"] == 1
    counted = admin(stack, "GET", "/admin/affiliates/levels")
    assert [row["member_count"] for row in counted["levels"]] == [1, 0, 0, 0, 0, 0, 0, 0]
    assert counted["members_counted_at"] is not None
    assert _fire(stack, "LevelMemberCountFunction", NOW + timedelta(hours=1))["tenants"] == 0


def test_the_seed_scenario_moved_by_hand_to_5_rises_to_6_7_8_and_says_why(stack: StackHandle) -> None:
    configure(stack)
    join(stack, "A")
    admin(stack, "PUT", "/admin/affiliates/levels", json=SEED_SCENARIO)
    token = token_for("admin")
    for body, field in (({"rank": 5}, "reason"), ({"rank": 9, "reason": "r"}, "rank")):
        status, answer = call(
            stack,
            ADMIN_API,
            "PATCH",
            "/admin/affiliates/{affiliate_id}/level",
            token,
            path_parameters={"affiliate_id": "A"},
            json=body,
        )
        assert (status, answer["error"]["field"]) == (400, field), answer
    status, _ = call(
        stack,
        ADMIN_API,
        "PATCH",
        "/admin/affiliates/{affiliate_id}/level",
        token,
        path_parameters={"affiliate_id": "nobody"},
        json={"rank": 5, "reason": "r"},
    )
    assert status == 404
    moved = admin(
        stack,
        "PATCH",
        "/admin/affiliates/{affiliate_id}/level",
        path_parameters={"affiliate_id": "A"},
        json={"rank": 5, "reason": "新微客入驻计划"},
    )
    assert (moved["rank"], moved["name"]) == (5, "等级五")
    for invited, rank in (("E", 6), ("F", 7), ("G", 8)):
        join(stack, invited, invited_by="A")
        assert mine(stack, "A", "GET", "/affiliate/level")["rank"] == rank
    changes = admin(
        stack, "GET", "/admin/affiliates/{affiliate_id}/level-history", path_parameters={"affiliate_id": "A"}
    )["changes"]
    assert [(c["kind"], c["from_rank"], c["to_rank"]) for c in changes] == [
        ("upgrade", 7, 8),
        ("upgrade", 6, 7),
        ("upgrade", 5, 6),
        ("manual", 1, 5),
        ("initial", None, 1),
    ]
    assert (changes[3]["reason"], changes[3]["actor"]) == ("新微客入驻计划", "ops-1")
    why = changes[0]
    assert why["rule_version"] == 1 and why["trigger"]["source"] == "joined:G"
    assert why["threshold"]["conditions"] == [
        {
            "metric": "invited_affiliates",
            "at_least": 3,
            "value": 3,
            "remaining": 0,
            "met": True,
            "product_ids": None,
        }
    ]
    assert why["threshold"]["window_from"] is None  # unlimited
    own = mine(stack, "A", "GET", "/affiliate/level/history")["changes"]
    assert [c["to_rank"] for c in own] == [8, 7, 6, 5, 1] and own[3]["actor"] is None


def test_an_affiliate_sees_their_level_its_rate_and_what_remains(stack: StackHandle) -> None:
    configure(stack, after_sales_window_days=0)
    join(stack, "A")
    admin(stack, "PUT", "/admin/affiliates/levels", json=SEED_SCENARIO)
    click(stack, "C", "A", NOW - timedelta(days=3))
    pay(stack, "SO-1", "C", 150_000, NOW - timedelta(days=2))
    mine_now = mine(stack, "A", "GET", "/affiliate/level")
    assert (mine_now["rank"], mine_now["commission_rate_bp"], mine_now["rate_from"]) == (1, 1000, "program")
    assert mine_now["description"] == "每位微客从这里开始"
    assert [n["rank"] for n in mine_now["next_levels"]] == [2, 3, 4, 6, 7, 8]
    assert mine_now["next_levels"][1]["conditions"][0] | {"product_ids": None} == {
        "metric": "deal_fen",
        "at_least": 200_000,
        "value": 0,
        "remaining": 200_000,
        "met": False,
        "product_ids": None,
    }
    complete(stack, "SO-1", NOW - timedelta(days=1))  # the program's window is 0 days: a deal at once
    after = mine(stack, "A", "GET", "/affiliate/level")
    assert (after["rank"], after["commission_rate_bp"], after["rate_from"]) == (2, 1200, "level")
    assert after["next_levels"][0]["conditions"][0]["remaining"] == 50_000  # 1,500 of 2,000 yuan


def test_a_payment_leaves_its_assessment_to_the_job(stack: StackHandle) -> None:
    configure(stack)
    join(stack, "A")
    admin(
        stack,
        "PUT",
        "/admin/affiliates/levels",
        json={"levels": [{"name": "一"}, _by("paid_orders", 1, name="二", commission_rate_bp=1500)]},
    )
    click(stack, "C", "A", NOW - timedelta(days=3))
    pay(stack, "SO-1", "C", 10_000, NOW - timedelta(days=2))
    assert mine(stack, "A", "GET", "/affiliate/level")["rank"] == 1
    job = datetime.now(UTC) + timedelta(minutes=1)  # the payment owed the assessment when it was processed
    assert _fire(stack, "LevelAssessmentFunction", job)["level_changes"] == 1
    assert mine(stack, "A", "GET", "/affiliate/level")["rank"] == 2
    pay(stack, "SO-2", "C", 10_000, job + timedelta(minutes=1))
    rates = {o["order_id"]: o["lines"][0]["rate_bp"] for o in mine(stack, "A", "GET", "/affiliate/orders")}
    assert rates == {"SO-1": 1000, "SO-2": 1500}  # each at the level rate in force at its payment


def test_only_admins_set_levels_and_an_affiliate_sees_only_their_own(stack: StackHandle) -> None:
    configure(stack)
    join(stack, "A")
    affiliate = token_for("affiliate", subject="A")
    assert call(stack, ADMIN_API, "GET", "/admin/affiliates/levels", affiliate)[0] == 403
    assert call(stack, CENTER_API, "GET", "/affiliate/level", affiliate)[0] == 404  # no levels set yet
    admin(stack, "PUT", "/admin/affiliates/levels", json=SEED_SCENARIO)
    stranger = token_for("affiliate", subject="not-an-affiliate")
    assert call(stack, CENTER_API, "GET", "/affiliate/level", stranger)[0] == 404


def test_the_openapi_documents_type_every_level_route(stack: StackHandle) -> None:
    import json

    from tests.support import api_event

    def document(function: str, path: str) -> dict[str, Any]:
        answer = stack.invoke(function, api_event("GET", path, query={"format": ["json"]}))
        return dict(json.loads(answer["body"]))

    console = document(ADMIN_API, "/admin/affiliates/swagger")
    center = document(CENTER_API, "/affiliate/swagger")

    def schema(doc: dict[str, Any], path: str, method: str) -> tuple[str | None, str]:
        operation = doc["paths"][path][method]
        body = (
            operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
        )
        answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
        return body.get("$ref", "").rsplit("/", 1)[-1] or None, answer["$ref"].rsplit("/", 1)[-1]

    assert schema(console, "/admin/affiliates/levels", "get") == (None, "LevelsView")
    assert schema(console, "/admin/affiliates/levels", "put") == ("LevelSettings", "LevelsView")
    assert schema(console, "/admin/affiliates/{affiliate_id}/level", "patch") == (
        "LevelChangeInput",
        "LevelHistory",
    )
    assert schema(console, "/admin/affiliates/{affiliate_id}/level-history", "get") == (None, "LevelHistory")
    assert schema(center, "/affiliate/level", "get") == (None, "MyLevel")
    assert schema(center, "/affiliate/level/history", "get") == (None, "LevelHistory")
    assert {"Condition", "Threshold", "Level", "ThresholdCheck", "LevelChange"} <= set(
        console["components"]["schemas"]
    )
