"""The subsidy ledger on the embedded endpoint: the webhook, the event processor, the hourly
window job and the subsidy console, seed 004's worked example and its exactly-once rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.conftest import StackHandle
from tests.support import token_for, webhook_event
from tests.support.subsidy import (
    SEED_CAMPAIGN_BODY,
    SEED_CAMPAIGN_ID,
    SEED_ORDERS,
    SEED_REPORT,
    SEED_ROWS,
    WINDOW_PASSED,
    completed_body,
    flagged_body,
    refund_body,
    source_updated_body,
    store_paid_body,
)

API = "SubsidyAdminApiFunction"
ADMIN = token_for("admin")
OPERATOR = token_for("operator", "ops-east", dept_ids=("2",))


def _send(stack: StackHandle, *bodies: dict[str, Any]) -> None:
    for body in bodies:
        answer = stack.invoke("OrderWebhookFunction", webhook_event(body))
        assert answer["statusCode"] == 202, answer
    stack.process_queue()


def _close_windows(stack: StackHandle) -> None:
    stack.fire("AfterSalesWindowFunction", datetime.fromisoformat(WINDOW_PASSED.replace("Z", "+00:00")))
    stack.process_queue()


def _campaign(stack: StackHandle) -> None:
    status, body = stack.api(API, "POST", "/admin/subsidy/campaigns", ADMIN, json=SEED_CAMPAIGN_BODY)
    assert status == 200, body


def _seed_example(stack: StackHandle) -> None:
    _campaign(stack)
    _send(stack, *(store_paid_body(order) for order in SEED_ORDERS))
    _send(stack, *(refund_body(o["order_id"], o["refund_fen"]) for o in SEED_ORDERS if o["refund_fen"]))
    _send(stack, *(completed_body(order["order_id"]) for order in SEED_ORDERS))
    _close_windows(stack)


def _trail(stack: StackHandle, order_id: str, token: str = ADMIN) -> tuple[int, Any]:
    return stack.api(
        API, "GET", "/admin/subsidy/orders/{order_id}", token, path_parameters={"order_id": order_id}
    )


def test_seed_004_worked_example_the_report_per_campaign_scene_and_day(stack: StackHandle) -> None:
    _seed_example(stack)
    status, report = stack.api(API, "GET", "/admin/subsidy/report", OPERATOR)
    assert status == 200, report
    assert {key: report[key] for key in SEED_REPORT} == SEED_REPORT
    rows = {
        row["scene"]: (row["orders"], row["settled_fen"], row["fee_saved_fen"], row["growth_cards_fen"])
        for row in report["rows"]
    }
    assert rows == SEED_ROWS
    assert {row["day"] for row in report["rows"]} == {"2026-07-02"}
    assert {row["campaign_id"] for row in report["rows"]} == {SEED_CAMPAIGN_ID}


def test_the_report_filters_by_scene_and_day_and_exports_csv(stack: StackHandle) -> None:
    _seed_example(stack)
    status, only = stack.api(
        API, "GET", "/admin/subsidy/report", ADMIN, query={"scene": ["live_reservation"]}
    )
    assert status == 200 and [row["scene"] for row in only["rows"]] == ["live_reservation"], only
    status, none = stack.api(API, "GET", "/admin/subsidy/report", ADMIN, query={"from": ["2026-07-03"]})
    assert status == 200 and none["rows"] == [] and none["orders"] == 0, none
    status, csv = stack.api(API, "GET", "/admin/subsidy/report", ADMIN, query={"format": ["csv"]})
    assert status == 200 and isinstance(csv, str)
    lines = csv.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("campaign_id,scene,day,orders,settled_fen")
    assert f"{SEED_CAMPAIGN_ID},live_reservation,2026-07-02,1,30000,0,1200,0,0" in lines
    status, bad = stack.api(API, "GET", "/admin/subsidy/report", ADMIN, query={"from": ["July"]})
    assert status == 400 and bad["error"]["field"] == "from", bad


def test_an_orders_evidence_trail_shows_every_scene_the_winner_each_check_and_its_entries(
    stack: StackHandle,
) -> None:
    _seed_example(stack)
    status, trail = _trail(stack, "WXS-share", OPERATOR)
    assert status == 200, trail
    assert (trail["state"], trail["scene"], trail["settled_fen"]) == ("final", "wecom_share", 8_000)
    evidence = "\n".join(trail["evidence"])
    assert "scene wecom_share" in evidence and "scene official_account" in evidence
    assert "winner by priority: wecom_share" in evidence and "rating: passed" in evidence
    assert {(e["entry_id"], e["amount_fen"]) for e in trail["entries"]} == {
        ("subsidy-fee:WXS-share", 320),
        ("subsidy-card:WXS-share", 32),
    }
    status, live = _trail(stack, "WXS-live")
    assert live["card_recipient"] == "finder-brand-live" and live["growth_card_fen"] == 1_200
    status, excluded = _trail(stack, "WXS-excluded")
    assert excluded["in_plan"] is False and excluded["entries"] == []
    assert "category 文玩 is excluded" in "\n".join(excluded["evidence"])
    assert _trail(stack, "no-such-order")[0] == 404


def test_late_signals_re_attribute_until_settled_and_a_repeat_changes_nothing(stack: StackHandle) -> None:
    _campaign(stack)
    order = dict(SEED_ORDERS[1], order_id="WXS-late")  # official account at payment
    _send(stack, store_paid_body(order))
    share = [{"kind": "wecom_share", "share_channel": "private_chat"}]
    update = source_updated_body("WXS-late", share, "2026-07-02T12:00:00+08:00", "share data parsed")
    _send(stack, update, update)
    status, trail = _trail(stack, "WXS-late")
    assert status == 200 and (trail["state"], trail["scene"]) == ("provisional", "wecom_share"), trail
    assert [(c["before"], c["after"], c["reason"]) for c in trail["changes"]][-1] == (
        "official_account",
        "wecom_share",
        "share data parsed",
    )
    assert len(trail["source_reports"]) == 2


def test_a_flagged_order_is_clawed_back_once_and_leaves_the_report(stack: StackHandle) -> None:
    _seed_example(stack)
    _send(stack, flagged_body("WXS-oa"), flagged_body("WXS-oa"), flagged_body("WXS-oa", by="merchant"))
    _close_windows(stack)  # the job running again posts nothing twice
    status, trail = _trail(stack, "WXS-oa")
    assert status == 200 and trail["state"] == "clawed_back"
    clawbacks = [e for e in trail["entries"] if e["kind"].endswith("clawback")]
    assert sorted((e["ref"], e["amount_fen"]) for e in clawbacks) == [
        ("subsidy-card:WXS-oa", 80),
        ("subsidy-fee:WXS-oa", 1_000),
    ]
    status, report = stack.api(API, "GET", "/admin/subsidy/report", ADMIN)
    assert report["orders"] == 3 and report["fee_saved_fen"] == 520
    [row] = [row for row in report["rows"] if row["scene"] == "official_account"]
    assert (row["orders"], row["clawed_back_orders"], row["clawed_back_fen"]) == (0, 1, 1_080)


def test_campaigns_are_created_and_changed_by_admins_only(stack: StackHandle) -> None:
    path = "/admin/subsidy/campaigns"
    assert stack.status(API, "POST", path, OPERATOR, json=SEED_CAMPAIGN_BODY) == 403
    _campaign(stack)
    assert stack.status(API, "POST", path, ADMIN, json=SEED_CAMPAIGN_BODY) == 409
    status, listed = stack.api(API, "GET", path, OPERATOR)
    assert status == 200 and [c["campaign_id"] for c in listed["items"]] == [SEED_CAMPAIGN_ID]
    one = {"path_parameters": {"campaign_id": SEED_CAMPAIGN_ID}}
    change = {k: v for k, v in SEED_CAMPAIGN_BODY.items() if k != "campaign_id"}
    status, updated = stack.api(
        API, "PUT", path + "/{campaign_id}", ADMIN, json={**change, "version": 1}, **one
    )
    assert status == 200 and updated["version"] == 2, updated
    status, stale = stack.api(
        API, "PUT", path + "/{campaign_id}", ADMIN, json={**change, "version": 1}, **one
    )
    assert status == 409 and stale["error"]["field"] == "version", stale
    assert (
        stack.status(API, "PUT", path + "/{campaign_id}", OPERATOR, json={**change, "version": 2}, **one)
        == 403
    )
    status, got = stack.api(API, "GET", path + "/{campaign_id}", OPERATOR, **one)
    assert status == 200 and got["version"] == 2


def test_bad_campaign_input_is_a_400_naming_the_field_and_changes_nothing(stack: StackHandle) -> None:
    path = "/admin/subsidy/campaigns"
    before = stack.table_items()
    for change, field in (
        ({"reduced_rate_ppm": "1%"}, "reduced_rate_ppm"),
        ({"growth_card_cap_ppm": 1_000_001}, "growth_card_cap_ppm"),
        ({"starts_on": "07/01"}, "starts_on"),
        (
            {"enrolment": {"signed_up_on": "2026-07-01", "rating_at_sign_up": 6}},
            "enrolment.rating_at_sign_up",
        ),
        ({"campaign_id": "a b"}, "campaign_id"),
        ({"surprise": True}, "surprise"),
    ):
        status, answer = stack.api(API, "POST", path, ADMIN, json={**SEED_CAMPAIGN_BODY, **change})
        assert status == 400 and answer["error"]["field"] == field, (change, answer)
    assert stack.table_items() == before


def test_a_campaign_window_sharing_a_day_with_another_is_a_409_and_changes_nothing(
    stack: StackHandle,
) -> None:
    path = "/admin/subsidy/campaigns"
    _campaign(stack)  # 2026-07-01 .. 2026-07-31
    before = stack.table_items()
    for starts_on, ends_on in (
        ("2026-07-31", "2026-08-31"),
        ("2026-06-01", "2026-07-01"),
        ("2026-07-10", "2026-07-11"),
    ):
        body = {**SEED_CAMPAIGN_BODY, "campaign_id": "other", "starts_on": starts_on, "ends_on": ends_on}
        status, answer = stack.api(API, "POST", path, ADMIN, json=body)
        assert status == 409 and answer["error"]["field"] == "starts_on", (starts_on, answer)
        assert SEED_CAMPAIGN_ID in answer["error"]["message"], answer
    assert stack.table_items() == before
    august = {
        **SEED_CAMPAIGN_BODY,
        "campaign_id": "august",
        "starts_on": "2026-08-01",
        "ends_on": "2026-08-31",
    }
    assert stack.status(API, "POST", path, ADMIN, json=august) == 200
    change = {k: v for k, v in august.items() if k != "campaign_id"}
    one = {"path_parameters": {"campaign_id": "august"}}
    status, answer = stack.api(
        API,
        "PUT",
        path + "/{campaign_id}",
        ADMIN,
        json={**change, "starts_on": "2026-07-31", "version": 1},
        **one,
    )
    assert status == 409 and answer["error"]["field"] == "starts_on", answer
    status, moved = stack.api(
        API,
        "PUT",
        path + "/{campaign_id}",
        ADMIN,
        json={**change, "ends_on": "2026-09-30", "version": 1},
        **one,
    )
    assert status == 200 and moved["version"] == 2, moved
