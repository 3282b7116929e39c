"""An affiliate's own listings page through their own index partition on the embedded stack: full
pages newest first, the cursor in the Next-Cursor header going on without gaps or repeats, only
their own rows, and a cursor they were not given is a 400 naming ``cursor``."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from tests.conftest import StackHandle
from tests.integration.test_affiliates import (
    CENTER_API,
    NOW,
    _settled,
    at_merchant_noon,
    click,
    configure,
    join,
    pay,
)
from tests.support import api_event, token_for


def _own(stack: StackHandle, who: str, resource: str, **query: str) -> tuple[int, Any, str | None]:
    """(status, body, Next-Cursor header) of one call of the affiliate API as ``who``."""
    event = api_event(
        "GET",
        resource,
        token=token_for("affiliate", subject=who),
        query={name: [value] for name, value in query.items()} or None,
    )
    with at_merchant_noon():
        response = stack.invoke(CENTER_API, event)
    headers = {name.lower(): value for name, value in (response.get("headers") or {}).items()}
    multi = {name.lower(): values for name, values in (response.get("multiValueHeaders") or {}).items()}
    following = headers.get("next-cursor") or (multi.get("next-cursor") or [None])[0]
    return response["statusCode"], json.loads(response["body"]), following


def _every_page(stack: StackHandle, who: str, resource: str, limit: int) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while len(pages) < 50:
        status, page, cursor = _own(
            stack, who, resource, limit=str(limit), **({"cursor": cursor} if cursor else {})
        )
        assert status == 200, page
        pages.append(page)
        if cursor is None:
            return pages
    raise AssertionError("the listing never ended")


def test_an_affiliates_orders_page_newest_first_only_theirs(stack: StackHandle) -> None:
    configure(stack)
    join(stack, "A")
    join(stack, "B")
    start = NOW - timedelta(days=2)
    click(stack, "CA", "A", start - timedelta(minutes=30))
    click(stack, "CB", "B", start - timedelta(minutes=30))
    orders = [f"SO-OWN{n}" for n in range(7)]
    for n, order_id in enumerate(orders):
        pay(stack, order_id, "CA", 10_000 + n, start + timedelta(minutes=n))
    pay(stack, "SO-OF-B", "CB", 10_000, start + timedelta(minutes=3))
    for limit in (1, 3, 50):
        pages = _every_page(stack, "A", "/affiliate/orders", limit)
        assert [row["order_id"] for page in pages for row in page] == orders[::-1]  # each once
        assert all(len(page) == limit for page in pages[:-1])  # every page but the last is full
    [of_b] = _every_page(stack, "B", "/affiliate/orders", 50)
    assert [row["order_id"] for row in of_b] == ["SO-OF-B"]
    status, first, cursor = _own(stack, "A", "/affiliate/orders", limit="2")
    assert status == 200 and len(first) == 2 and cursor
    status, body, _ = _own(stack, "B", "/affiliate/orders", limit="2", cursor=cursor)  # A's cursor
    assert status == 400 and body["error"]["field"] == "cursor"
    status, body, _ = _own(stack, "A", "/affiliate/orders", cursor="bm90IG91cnM")
    assert status == 400 and body["error"]["field"] == "cursor"
    since = (start + timedelta(minutes=4)).isoformat()
    [bounded] = [_own(stack, "A", "/affiliate/orders", paid_from=since)[1]]
    assert [row["order_id"] for row in bounded] == orders[:3:-1]  # the time bound is the key's


def test_an_affiliates_withdrawals_page_newest_first_only_theirs(stack: StackHandle) -> None:
    from tests.integration.test_affiliates import mine

    configure(stack)
    join(stack, "A")
    join(stack, "B")
    _settled(stack, "A", "SO-WOA", 10_000)
    _settled(stack, "B", "SO-WOB", 10_000)
    asked = [
        mine(
            stack, "A", "POST", "/affiliate/withdrawals", json={"amount_fen": 100 + n, "request_id": f"o{n}"}
        )
        for n in range(5)
    ]
    theirs = mine(stack, "B", "POST", "/affiliate/withdrawals", json={"amount_fen": 100, "request_id": "b"})
    # Asked at one instant (the pinned clock): the index orders them by id after the time.
    expected = sorted((w["withdrawal_id"] for w in asked), reverse=True)
    for limit in (1, 2, 50):
        pages = _every_page(stack, "A", "/affiliate/withdrawals", limit)
        assert [w["withdrawal_id"] for page in pages for w in page] == expected
        assert all(len(page) == limit for page in pages[:-1])
        assert all(w["status"] == "pending_review" for page in pages for w in page)
    [of_b] = _every_page(stack, "B", "/affiliate/withdrawals", 50)
    assert [w["withdrawal_id"] for w in of_b] == [theirs["withdrawal_id"]]
    status, _, cursor = _own(stack, "A", "/affiliate/withdrawals", limit="2")
    assert status == 200 and cursor
    status, body, _ = _own(stack, "B", "/affiliate/withdrawals", cursor=cursor)
    assert status == 400 and body["error"]["field"] == "cursor"


def _ids(pages: list[dict[str, Any]]) -> list[str]:
    return [w["withdrawal_id"] for page in pages for w in page["items"]]


def test_withdrawals_by_status_page_through_the_status_key_as_payouts_move_it(stack: StackHandle) -> None:
    from tests.integration.test_affiliates import admin, call, mine
    from tests.integration.test_sharded_listings import _every_page as every_admin_page

    configure(stack)
    join(stack, "A")
    join(stack, "B")
    _settled(stack, "A", "SO-SA", 10_000)
    _settled(stack, "B", "SO-SB", 10_000)
    asked = [
        mine(
            stack,
            "AB"[n % 2],
            "POST",
            "/affiliate/withdrawals",
            json={"amount_fen": 100 + n, "request_id": f"s{n}"},
        )
        for n in range(9)
    ]
    ids = [w["withdrawal_id"] for w in asked]

    def act(n: int, action: str, **body: Any) -> dict[str, Any]:
        resource = f"/admin/affiliates/withdrawals/{{withdrawal_id}}/{action}"
        extra = {"json": body} if action != "cancel" else {}
        return admin(stack, "POST", resource, path_parameters={"withdrawal_id": ids[n]}, **extra)

    for n in (0, 3, 6):
        act(n, "reject", reason="no")
    for n in (1, 4):
        act(n, "approve")  # an automatic transfer: paying until the worker sends it
    paying = every_admin_page(stack, "/admin/affiliates/withdrawals", 1, status=["paying"])
    assert _ids(paying) == sorted((ids[1], ids[4]), reverse=True)
    stack.feed("PayoutWorkerFunction", "PayoutQueue")  # the bills wait for the affiliates
    expected = {
        "pending_review": [ids[n] for n in (2, 5, 7, 8)],
        "rejected": [ids[n] for n in (0, 3, 6)],
        "awaiting_confirmation": [ids[1], ids[4]],
        "paying": [],
    }
    for status, wanted in expected.items():
        for limit in (1, 3):
            pages = every_admin_page(stack, "/admin/affiliates/withdrawals", limit, status=[status])
            assert _ids(pages) == sorted(wanted, reverse=True), status  # newest first, each once
            assert all(len(page["items"]) == limit for page in pages[:-1])  # full pages
            assert all(w["status"] == status for page in pages for w in page["items"])
    of_a = every_admin_page(
        stack, "/admin/affiliates/withdrawals", 1, status=["pending_review"], affiliate_id=["A"]
    )
    assert _ids(of_a) == sorted((ids[2], ids[8]), reverse=True)  # A asked the even ones
    assert all(len(page["items"]) == 1 for page in of_a[:-1])
    first = admin(
        stack, "GET", "/admin/affiliates/withdrawals", query={"status": ["rejected"], "limit": ["1"]}
    )
    assert first["next_cursor"]
    status, body = call(
        stack,
        "AffiliateAdminApiFunction",
        "GET",
        "/admin/affiliates/withdrawals",
        token_for("admin"),
        query={"status": ["pending_review"], "cursor": [first["next_cursor"]]},  # another status's
    )
    assert status == 400 and body["error"]["field"] == "cursor"
    for merchant in stack.payments.merchants.values():
        merchant.balance_fen = 0  # a definite refusal: the payout fails, then is cancelled
    act(2, "approve")
    stack.feed("PayoutWorkerFunction", "PayoutQueue")
    failed = every_admin_page(stack, "/admin/affiliates/withdrawals", 50, status=["failed"])
    assert _ids(failed) == [ids[2]]
    act(2, "cancel")
    assert _ids(every_admin_page(stack, "/admin/affiliates/withdrawals", 50, status=["failed"])) == []
    assert _ids(every_admin_page(stack, "/admin/affiliates/withdrawals", 50, status=["cancelled"])) == [
        ids[2]
    ]
    still = every_admin_page(stack, "/admin/affiliates/withdrawals", 50, status=["pending_review"])
    assert _ids(still) == sorted((ids[5], ids[7], ids[8]), reverse=True)
