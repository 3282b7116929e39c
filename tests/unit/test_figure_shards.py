"""An affiliate's running figures and day figures are write-sharded: concurrent orders add to different
items, and reading sums every shard (and the unsharded item of earlier writes)."""

from __future__ import annotations

from datetime import UTC, datetime

from incentives.affiliates.ports import FiguresAdded
from incentives.storage.affiliates import TableAffiliates
from incentives.storage.affiliates import keys as affiliate_keys
from incentives.storage.memory_table import MemoryTable

CORP, NOW, DAY = "shard-unit", datetime(2026, 11, 24, 2, 0, tzinfo=UTC), "2026-11-24"


def _orders_on_two_shards() -> tuple[str, str]:
    first = "O-0"
    second = next(
        f"O-{n}"
        for n in range(1, 100)
        if affiliate_keys.figure_shard(f"O-{n}") != affiliate_keys.figure_shard(first)
    )
    return first, second


def _paid(order_id: str, issued: int) -> FiguresAdded:
    counters = {"paid_orders": 1, "issued_fen": issued}
    return FiguresAdded("A", NOW, counters, DAY, {"issued_fen": issued}, spread_by=order_id)


def test_two_orders_of_one_affiliate_write_different_items_and_read_back_summed() -> None:
    table = MemoryTable()
    affiliates = TableAffiliates(table)
    first, second = _orders_on_two_shards()
    affiliates.commit(CORP, [_paid(first, 100)])
    affiliates.commit(CORP, [_paid(second, 250)])
    figure_items = [sk for pk, sk in table.items if pk.endswith("#AFFILIATE#A")]
    assert len([sk for sk in figure_items if sk.startswith("STATS#")]) == 2
    assert len([sk for sk in figure_items if sk.startswith(f"DAY#{DAY}#")]) == 2
    assert "STATS" not in figure_items  # nothing lands on the single item any more
    stats = affiliates.stats(CORP, "A")
    assert (stats["paid_orders"], stats["issued_fen"], stats["kind"]) == (2, 350, "affiliate_stats")
    assert affiliates.day(CORP, "A", DAY) == {"kind": "affiliate_day", "day": DAY, "issued_fen": 350}


def test_the_same_order_lands_on_the_same_shard() -> None:
    assert affiliate_keys.figure_shard("O-7") == affiliate_keys.figure_shard("O-7")
    assert {affiliate_keys.figure_shard(f"O-{n}") for n in range(200)} == set(
        range(affiliate_keys.FIGURE_SHARDS)
    )


def test_figures_written_before_sharding_still_count() -> None:
    table = MemoryTable()
    legacy = {**affiliate_keys.stats_key(CORP, "A"), "kind": "affiliate_stats", "invited_members": 3}
    table.items[(legacy["pk"], legacy["sk"])] = legacy
    affiliates = TableAffiliates(table)
    affiliates.commit(CORP, [FiguresAdded("A", NOW, {"invited_members": 1})])
    assert affiliates.stats(CORP, "A")["invited_members"] == 4
