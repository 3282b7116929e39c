"""The WeChat Store connector on the real handlers: a push is verified and queued, the sync worker
reads the order from the store (the sandbox) into order events, the daily pull keeps the flows,
and the console shows them; every AWS call is one its function's policy allows."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import time
from typing import Any

from incentives.wechat_store.push import StoreCredentials
from tests.conftest import StackHandle
from tests.support import api_event, sample, token_for

CALLBACK, SYNC, FLOWS, CONSOLE = (
    "StoreCallbackFunction",
    "StoreSyncFunction",
    "StoreFlowsFunction",
    "StoreAdminApiFunction",
)
ADMIN = token_for("admin")
RESOURCE = "/wechat-store/callback/{corp_id}"


def credentials(stack: StackHandle) -> StoreCredentials:
    config = stack.config
    return StoreCredentials(config.store_appid, config.store_push_token, config.store_encoding_aes_key)


def push(
    stack: StackHandle,
    message: dict[str, Any],
    *,
    corp_id: str = "ww-local-corp",
    signature: str | None = None,
) -> dict[str, Any]:
    crypto = credentials(stack).crypto()
    encrypt, stamp = crypto.encrypt(json.dumps(message)), str(int(time.time()))
    query = {
        "timestamp": stamp,
        "nonce": "n1",
        "encrypt_type": "aes",
        "msg_signature": signature or crypto.signature(stamp, "n1", encrypt),
    }
    event = api_event(
        "POST",
        RESOURCE,
        {"corp_id": corp_id},
        {k: [v] for k, v in query.items()},
        body=json.dumps({"ToUserName": "gh_local_store", "Encrypt": encrypt}),
    )
    result: dict[str, Any] = stack.invoke(CALLBACK, event)
    return result


def paid_push(order_id: str) -> dict[str, Any]:
    return {
        "MsgType": "event",
        "Event": "channels_ec_order_pay",
        "CreateTime": int(time.time()),
        "order_info": {"order_id": int(order_id)},
    }


def store_order(stack: StackHandle, **request: Any) -> str:
    body = {
        "products": [{"product_id": "p1", "sku_id": "s1", "price_fen": 10000, "category": ["服饰", "女装"]}],
        "deliveries": 0,
    }
    return str(stack.store.create_order({**body, **request})["order_id"])


def test_url_verification_echoes_with_the_right_signature_and_refuses_a_wrong_one(stack: StackHandle) -> None:
    stamp = str(int(time.time()))
    signature = hashlib.sha1(
        "".join(sorted([stack.config.store_push_token, stamp, "n"])).encode()
    ).hexdigest()
    query = {"signature": [signature], "timestamp": [stamp], "nonce": ["n"], "echostr": ["42"]}
    ok = stack.invoke(CALLBACK, api_event("GET", RESOURCE, {"corp_id": "ww-local-corp"}, query))
    assert (ok["statusCode"], ok["body"]) == (200, "42")
    bad = stack.invoke(
        CALLBACK, api_event("GET", RESOURCE, {"corp_id": "ww-local-corp"}, {**query, "signature": ["0" * 40]})
    )
    assert bad["statusCode"] == 401


def test_a_push_is_queued_and_the_worker_turns_the_order_into_one_paid_event_even_when_pushed_twice(
    stack: StackHandle,
) -> None:
    order_id = store_order(stack, scenes=["mini_program"])
    for _ in range(2):  # the store retries
        answer = push(stack, paid_push(order_id))
        assert (answer["statusCode"], answer["body"]) == (200, "success")
    stack.feed(SYNC, "WeChatStoreQueue")
    events = [json.loads(m["Body"])["event"] for m in stack.drain()]
    assert {event["event_id"] for event in events} == {f"wxs-{order_id}-paid"}
    [signal] = events[0]["data"]["source"]["signals"]
    assert signal["kind"] == "mini_program" and events[0]["data"]["channel"] == "wechat_store"
    status, view = stack.api(
        CONSOLE, "GET", "/admin/wechat-store/orders/{order_id}", ADMIN, path_parameters={"order_id": order_id}
    )
    assert status == 200 and view["emitted_event_ids"] == [f"wxs-{order_id}-paid"]


def test_a_push_with_a_wrong_signature_or_for_an_unknown_tenant_is_refused_and_queues_nothing(
    stack: StackHandle,
) -> None:
    order_id = store_order(stack)
    assert push(stack, paid_push(order_id), signature="0" * 40)["statusCode"] == 401
    assert push(stack, paid_push(order_id), corp_id="ww-nobody")["statusCode"] == 401
    assert stack.drain("WeChatStoreQueue") == []


def test_the_daily_pull_keeps_the_flows_and_the_console_lists_them_with_the_quarantined(
    stack: StackHandle,
) -> None:
    order_id = store_order(stack)
    stack.store.settle(
        order_id, {"fee_fen": 480, "settle_time": 1795485600, "deliveries": 0}
    )  # 2026-11-24 10:00 CST
    stack.store.add_flow(
        {
            "record": {"flow_id": "drift-1", "funds_type": 123, "flow_type": 2, "amount": 7},
            "bookkeeping_unix": 1795485601,
        }
    )
    schedule = {**sample("store_flows/daily"), "time": "2026-11-25T02:00:00Z"}
    result = stack.invoke(FLOWS, schedule)
    assert result["day"] == "2026-11-24" and result["tenants"]["ww-local-corp"]["quarantined"] == 1
    status, flows = stack.api(
        CONSOLE, "GET", "/admin/wechat-store/flows", ADMIN, query={"day": ["2026-11-24"]}
    )
    assert status == 200
    assert [(f["order_id"], f["amount_fen"]) for f in flows["flows"]] == [(order_id, 480)]
    assert [q["reason"] for q in flows["quarantined"]] == ["unknown funds_type 123"]


def test_a_bad_day_is_a_400_naming_it(stack: StackHandle) -> None:
    status, body = stack.api(
        CONSOLE, "GET", "/admin/wechat-store/flows", ADMIN, query={"day": ["24/11/2026"]}
    )
    assert status == 400 and body["error"]["field"] == "day"


def test_without_the_subsidy_ledger_the_reconciliation_says_so_instead_of_guessing(
    stack: StackHandle,
) -> None:
    order_id = store_order(stack)
    stack.store.settle(order_id, {"fee_fen": 480, "settle_time": 1795485600, "deliveries": 0})
    stack.invoke(FLOWS, {**sample("store_flows/daily"), "time": "2026-11-25T02:00:00Z"})
    status, body = stack.api(
        CONSOLE, "GET", "/admin/wechat-store/reconciliation", ADMIN, query={"day": ["2026-11-24"]}
    )
    assert status == 200, body
    if importlib.util.find_spec("incentives.subsidy") is None:
        assert body["expectations_available"] is False
        [row] = body["rows"]
        assert (row["order_id"], row["bucket"], row["charged_fee_fen"], row["expected_fee_fen"]) == (
            order_id,
            "missing",
            480,
            None,
        )
    status, csv = stack.api(
        CONSOLE,
        "GET",
        "/admin/wechat-store/reconciliation",
        ADMIN,
        query={"day": ["2026-11-24"], "format": ["csv"]},
    )
    assert status == 200 and order_id in csv and csv.startswith("\ufeffday,order_id,bucket")


def test_the_events_enter_the_pipeline_the_order_is_applied_and_a_late_signal_is_kept(
    stack: StackHandle,
) -> None:
    order_id = store_order(stack, scenes=["wecom_share"], provisional=True)
    push(stack, paid_push(order_id))
    stack.feed(SYNC, "WeChatStoreQueue")
    stack.store.finish_parsing(order_id, {"deliveries": 0})
    update = {
        "MsgType": "event",
        "Event": "channels_ec_order_ext_info_update",
        "order_info": {"order_id": int(order_id)},
    }
    push(stack, update)
    stack.feed(SYNC, "WeChatStoreQueue")
    stack.process_queue()
    order = stack.order(order_id)
    assert order is not None and order["paid_fen"] == 10000
    kept = {item["event_type"] for item in stack.table_items() if item.get("kind") == "raw_event"}
    assert {"order.paid", "order.source_updated"} <= kept
