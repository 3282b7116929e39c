"""The consoles' tenant-wide listings page across the index shards on the embedded stack: commission
records and withdrawals written to several of the 16 shards come back newest first, each once,
whatever the page size; totals come from the maintained counters; a foreign cursor is a 400."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from incentives.runtime import wiring
from incentives.storage import keys
from incentives.storage.affiliates import keys as affiliate_keys
from incentives.storage.table import Update
from tests.conftest import StackHandle
from tests.integration.test_affiliates import (
    ADMIN_API,
    NOW,
    _settled,
    admin,
    call,
    click,
    configure,
    join,
    mine,
    pay,
    refund,
)
from tests.support import LOCAL_CORP, token_for

DAY = (NOW - timedelta(days=3)).astimezone(UTC).date()
"""A whole UTC day of its own: the totals of [00:00:00.000Z, 23:59:59.999Z] are the counters'."""


def _every_page(stack: StackHandle, resource: str, limit: int, **query: list[str]) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    cursor = None
    while len(pages) < 100:
        page = admin(
            stack,
            "GET",
            resource,
            query={**query, "limit": [str(limit)], **({"cursor": [cursor]} if cursor else {})},
        )
        pages.append(page)
        assert len(page["items"]) <= limit
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("the listing never ended")


def _shard(order_id: str) -> str:
    return keys.listing_partition("", order_id)


def test_commission_records_page_across_shards_in_order_with_maintained_totals(stack: StackHandle) -> None:
    configure(stack)
    join(stack, "A")
    start = datetime.combine(DAY, time(1), tzinfo=UTC)
    click(stack, "C", "A", start - timedelta(minutes=30))
    orders = [f"SO-P{n:02d}" for n in range(9)]
    for n, order_id in enumerate(orders):
        pay(stack, order_id, "C", 10_000 + 1_000 * n, start + timedelta(minutes=n))
    assert len({_shard(order_id) for order_id in orders}) > 3  # the orders sit on several shards
    refund(stack, "SO-P00", "R-P00", 5_000, start + timedelta(hours=1))
    whole_day = {"from": [f"{DAY}T00:00:00.000Z"], "to": [f"{DAY}T23:59:59.999Z"]}
    firsts = []
    for limit in (1, 2, 4, 50):
        pages = _every_page(stack, "/admin/affiliates/commissions", limit, **whole_day)
        seen = [row["order_id"] for page in pages for row in page["items"]]
        assert seen == orders[::-1]  # newest first, each once
        assert all(len(page["items"]) == limit for page in pages[:-1])
        firsts.append(pages[0])
    first = firsts[0]
    commission = sum(1_000 + 100 * n for n in range(9))
    assert first["records"] == 9 and first["total_commission_fen"] == commission
    assert first["total_net_fen"] == commission - 500  # the refund took back half of SO-P00's 1,000
    later = admin(
        stack,
        "GET",
        "/admin/affiliates/commissions",
        query={"from": [(start + timedelta(minutes=6)).isoformat()]},
    )
    assert [row["order_id"] for row in later["items"]] == orders[:5:-1]  # the time bound is the key's
    assert later["records"] is None  # not whole days: no counter answers it
    status, body = call(
        stack,
        ADMIN_API,
        "GET",
        "/admin/affiliates/commissions",
        token_for("admin"),
        query={"cursor": ["bm90IG91cnM"]},
    )
    assert status == 400 and body["error"]["field"] == "cursor"
    status, body = call(
        stack,
        ADMIN_API,
        "GET",
        "/admin/affiliates/commissions",
        token_for("admin"),
        query={"cursor": [first["next_cursor"]]},  # made with other bounds
    )
    assert status == 400 and body["error"]["field"] == "cursor"


def test_all_time_totals_read_the_all_time_counters_and_agree_with_the_days(stack: StackHandle) -> None:
    configure(stack)
    join(stack, "A")
    start = datetime.combine(DAY, time(1), tzinfo=UTC)
    click(stack, "C", "A", start - timedelta(minutes=30))
    for n in range(5):  # two days, several shards
        pay(stack, f"SO-T{n}", "C", 10_000, start + timedelta(days=n % 2, minutes=n))
    refund(stack, "SO-T0", "R-T0", 5_000, start + timedelta(hours=1))
    everything = admin(stack, "GET", "/admin/affiliates/commissions")
    bounds = {"from": [f"{DAY}T00:00:00.000Z"], "to": [f"{DAY + timedelta(days=1)}T23:59:59.999Z"]}
    days = admin(stack, "GET", "/admin/affiliates/commissions", query=bounds)
    assert (everything["records"], everything["total_commission_fen"], everything["total_net_fen"]) == (
        5,
        5_000,
        4_500,
    )
    assert (days["records"], days["total_net_fen"]) == (everything["records"], everything["total_net_fen"])

    counter = affiliate_keys.share_totals_all_key(LOCAL_CORP, "SO-T1")  # moved by hand: all time reads it
    wiring.table().transact([Update(counter, add={"net_fen": 7})])
    assert admin(stack, "GET", "/admin/affiliates/commissions")["total_net_fen"] == 4_507
    assert admin(stack, "GET", "/admin/affiliates/commissions", query=bounds)["total_net_fen"] == 4_500


def test_withdrawals_page_across_shards_newest_first(stack: StackHandle) -> None:
    configure(stack)
    join(stack, "A")
    join(stack, "B")
    _settled(stack, "A", "SO-WA", 10_000)
    _settled(stack, "B", "SO-WB", 10_000)
    asked = []
    for n in range(7):
        who = "A" if n % 2 else "B"
        body = {"amount_fen": 100 + n, "request_id": f"w{n}"}
        asked.append(mine(stack, who, "POST", "/affiliate/withdrawals", json=body)["withdrawal_id"])
    assert len({_shard(withdrawal_id) for withdrawal_id in asked}) > 2
    # Asked at one instant (the pinned clock): the index orders them by id after the time.
    for limit in (1, 3, 50):
        pages = _every_page(stack, "/admin/affiliates/withdrawals", limit)
        assert [w["withdrawal_id"] for page in pages for w in page["items"]] == sorted(asked, reverse=True)
    of_a = _every_page(stack, "/admin/affiliates/withdrawals", 2, affiliate_id=["A"])
    assert [w["withdrawal_id"] for page in of_a for w in page["items"]] == sorted(asked[1::2], reverse=True)
    rejected = _every_page(stack, "/admin/affiliates/withdrawals", 50, status=["rejected"])
    assert [w for page in rejected for w in page["items"]] == []


def test_applications_store_applications_and_affiliates_page_across_shards(stack: StackHandle) -> None:
    configure(stack, promotable_stores="applied")
    people = [f"P{n}" for n in range(6)]
    for who in people:
        join(stack, who)  # applied and approved at once (review: auto)
    for n, store in enumerate(("s-1", "s-2", "s-3")):
        mine(
            stack,
            people[n],
            "POST",
            "/affiliate/stores/{store_id}/application",
            path_parameters={"store_id": store},
        )
    listed = _every_page(stack, "/admin/affiliates", 2)
    assert sorted(a["affiliate_id"] for page in listed for a in page["items"]) == people
    applications = _every_page(stack, "/admin/affiliates/applications", 4, status=["approved"])
    assert sorted(a["customer_id"] for page in applications for a in page["items"]) == people
    pending = _every_page(stack, "/admin/affiliates/store-applications", 1, status=["pending_review"])
    found = [(a["affiliate_id"], a["store_id"]) for page in pending for a in page["items"]]
    assert sorted(found) == [("P0", "s-1"), ("P1", "s-2"), ("P2", "s-3")]
