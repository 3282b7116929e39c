"""Concurrent requests on the running stack have DynamoDB's outcome (SPEC §5): parallel withdrawals
of one balance, parallel deliveries of one event, parallel distinct events.

The stack serves each request on its own thread, each function up to four invocations at once
(one per instance); whatever the interleaving, money moves once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from incentives.ledger.model import Bucket, EntryKind
from incentives.storage.affiliates.earnings import credit_id
from incentives.storage.affiliates.store import account
from incentives.storage.dynamo_table import DynamoTable
from incentives.storage.ledger import LedgerRepository
from tests.e2e.conftest import RunningStack
from tests.e2e.test_affiliates_seed_003 import SEED_003_PROGRAM, _call, _send
from tests.e2e.test_wecom_over_http import _token
from tests.support import LOCAL_CORP, order_paid, signed_headers

pytestmark = pytest.mark.e2e
NOW = datetime.now(UTC).replace(microsecond=0)
PARALLEL_WITHDRAWALS = 20
PARALLEL_DELIVERIES = 30
PROCESSING_TIMEOUT_SECONDS = 180


def _parallel(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def _ledger(stack: RunningStack) -> LedgerRepository:
    return LedgerRepository(DynamoTable(stack.client("dynamodb"), f"{stack.stack_name}-IncentivesTable"))


def _items(stack: RunningStack, kind: str, **attributes: str) -> list[dict[str, Any]]:
    """Every stored item of ``kind`` with those attributes (a full scan: what is stored, not a view)."""
    from incentives.storage.dynamo import from_item

    pages = (
        stack.client("dynamodb")
        .get_paginator("scan")
        .paginate(TableName=f"{stack.stack_name}-IncentivesTable")
    )
    found = [from_item(item) for page in pages for item in page.get("Items", [])]
    return [
        item
        for item in found
        if item.get("kind") == kind and all(item.get(k) == v for k, v in attributes.items())
    ]


def _events_queue_drained(stack: RunningStack) -> bool:
    counts = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.queue_url("EventsQueue"),
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return all(int(count) == 0 for count in counts.values())


def _affiliate(stack: RunningStack, who: str) -> str:
    """A new active affiliate with one customer bound to them; their bearer token."""
    admin = _token(stack, "--role", "admin")
    _call(
        stack,
        "PUT",
        "/admin/affiliates/settings",
        admin,
        json=SEED_003_PROGRAM,
    )
    token = _token(stack, "--role", "affiliate", "--sub", who)
    _call(stack, "POST", "/affiliate/application", token, json={"openid": f"openid-{who}"})
    clicked_at = NOW - timedelta(days=12)
    _send(
        stack,
        "referral_clicked",
        f"click-{who}",
        clicked_at,
        customer_id=f"{who}-customer",
        affiliate_id=who,
        clicked_at=clicked_at.isoformat(),
    )
    stack.wait_for(
        lambda: _call(stack, "GET", "/affiliate/customers", token), what=f"a customer bound to {who}"
    )
    return token


def _paid(who: str, order_id: str, event_id: str, paid_fen: int, paid_at: datetime) -> bytes:
    body = order_paid(
        order_id,
        event_id=event_id,
        paid_fen=paid_fen,
        customer_id=f"{who}-customer",
        paid_at=paid_at.isoformat(),
        source={"scene": "share"},
    )
    body["occurred_at"] = paid_at.isoformat()
    return json.dumps(body).encode()


def _deliver(stack: RunningStack, raw: bytes) -> Callable[[], requests.Response]:
    headers = signed_headers(raw)
    return lambda: requests.post(f"{stack.api_url}/webhooks/orders", data=raw, headers=headers, timeout=120)


def _credits(stack: RunningStack, who: str) -> list[str]:
    entries = _ledger(stack).entries(account(LOCAL_CORP, who))
    return sorted(entry.ref for entry in entries if entry.kind == EntryKind.CREDIT)


def test_parallel_withdrawals_of_the_whole_balance_reserve_it_once(running_stack: RunningStack) -> None:
    stack, who = running_stack, "e2e-race-W"
    token = _affiliate(stack, who)
    paid_at = NOW - timedelta(days=11)
    assert (
        _deliver(stack, _paid(who, "E2E-RACE-W", "e2e-race-W-paid", 1_200_000, paid_at))().status_code == 202
    )
    stack.wait_for(lambda: _call(stack, "GET", "/affiliate/orders", token), what="the commission")
    _send(
        stack,
        "order_completed",
        "e2e-race-W-completed",
        NOW - timedelta(days=10),
        order_id="E2E-RACE-W",
        completed_at=(NOW - timedelta(days=10)).isoformat(),
    )
    stack.wait_for(
        lambda: _call(stack, "GET", "/affiliate/orders", token)[0]["hold_until"], what="the hold's date"
    )
    fired = stack.command("fire", "LedgerSettlementFunction", "--at", NOW.isoformat())
    assert fired.returncode == 0, fired.stderr
    owner = account(LOCAL_CORP, who)
    assert _ledger(stack).balance(owner)[Bucket.SETTLED] == 120_000

    def withdraw(n: int) -> Callable[[], requests.Response]:
        return lambda: requests.post(
            f"{stack.api_url}/affiliate/withdrawals",
            json={"amount_fen": 120_000, "request_id": f"e2e-race-{n}"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )

    answers = _parallel([withdraw(n) for n in range(PARALLEL_WITHDRAWALS)])

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [409] * (PARALLEL_WITHDRAWALS - 1), [a.text for a in answers]
    [accepted] = [answer.json() for answer in answers if answer.status_code == 200]
    stored = _items(stack, "affiliate_withdrawal", affiliate_id=who)
    assert [item["withdrawal_id"] for item in stored] == [accepted["withdrawal_id"]]
    reserves = [entry for entry in _ledger(stack).entries(owner) if entry.kind == EntryKind.RESERVE]
    assert [entry.amount_fen for entry in reserves] == [120_000]
    balance = _ledger(stack).balance(owner)
    assert balance[Bucket.RESERVED] == 120_000 and balance[Bucket.SETTLED] == 0
    assert balance.violations() == []


def test_parallel_deliveries_of_one_order_paid_take_effect_once(running_stack: RunningStack) -> None:
    stack, who = running_stack, "e2e-race-D"
    token = _affiliate(stack, who)
    raw = _paid(who, "E2E-RACE-D", "e2e-race-D-paid", 10_000, NOW - timedelta(hours=1))

    answers = _parallel([_deliver(stack, raw)] * PARALLEL_DELIVERIES)

    assert [answer.status_code for answer in answers] == [202] * PARALLEL_DELIVERIES
    assert len({answer.text for answer in answers}) == 1  # the same answer to every repeat
    stack.wait_for(
        lambda: _events_queue_drained(stack),
        timeout=PROCESSING_TIMEOUT_SECONDS,
        what="every delivery processed",
    )
    order = stack.order("E2E-RACE-D")
    assert order is not None and order["status"] == "paid" and order["paid_fen"] == 10_000
    [record] = _call(stack, "GET", "/affiliate/orders", token)
    assert (record["order_id"], record["commission_fen"]) == ("E2E-RACE-D", 1_000)
    assert _credits(stack, who) == [credit_id("E2E-RACE-D", "commission")]
    assert _ledger(stack).balance(account(LOCAL_CORP, who))[Bucket.PENDING] == 1_000


def test_parallel_distinct_orders_each_take_effect_once(running_stack: RunningStack) -> None:
    stack, who = running_stack, "e2e-race-M"
    token = _affiliate(stack, who)
    orders = [f"E2E-RACE-M-{n:02}" for n in range(PARALLEL_DELIVERIES)]
    paid_at = NOW - timedelta(hours=1)

    answers = _parallel(
        [_deliver(stack, _paid(who, order_id, f"{order_id}-paid", 10_000, paid_at)) for order_id in orders]
    )

    assert [answer.status_code for answer in answers] == [202] * PARALLEL_DELIVERIES
    stack.wait_for(
        lambda: _events_queue_drained(stack), timeout=PROCESSING_TIMEOUT_SECONDS, what="every order processed"
    )
    records = _call(stack, "GET", "/affiliate/orders", token)
    assert sorted((r["order_id"], r["commission_fen"]) for r in records) == [(o, 1_000) for o in orders]
    assert _credits(stack, who) == sorted(credit_id(order_id, "commission") for order_id in orders)
    balance = _ledger(stack).balance(account(LOCAL_CORP, who))
    assert balance[Bucket.PENDING] == 1_000 * PARALLEL_DELIVERIES and balance.violations() == []
