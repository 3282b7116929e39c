"""The guide repository names what a failed grant ran into, whatever the order of its writes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from incentives.guides.ports import Grant, GrantOutcome
from incentives.storage.guides import TableGuideRepository
from incentives.storage.memory_table import MemoryTable
from incentives.storage.table import Page, Put, query_all, query_iter
from tests.support.guide_rewards import stored_rewards

AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def _grant(reward_id: str, used_fen: int, amount_fen: int = 100) -> Grant:
    occurrence = {
        "guide_id": "g1",
        "at": "2026-03-01T09:30:00Z",
        "source": reward_id,
        "granted_fen": amount_fen,
    }
    reward = {
        "reward_id": reward_id,
        "guide_id": "g1",
        "outlet_id": "o1",
        "rule_id": "r1",
        "month": "2026-03",
        "amount_fen": amount_fen,
        "created_at": "2026-03-01T09:30:00Z",
    }
    return Grant("ww-1", "g1", "r1", "2026-03", 1, AT, reward_id, occurrence, used_fen, amount_fen, reward)


def test_a_grant_is_applied_once_and_counts_against_the_month() -> None:
    repo = TableGuideRepository(MemoryTable())
    assert repo.commit_grant(_grant("rw-a", used_fen=0)) is GrantOutcome.APPLIED
    assert repo.counters("ww-1", "g1", "r1", "2026-03", 1).used_fen == 100
    assert repo.commit_grant(_grant("rw-a", used_fen=100)) is GrantOutcome.ALREADY_APPLIED


def test_a_grant_read_before_another_one_committed_is_told_the_counters_moved() -> None:
    repo = TableGuideRepository(MemoryTable())
    repo.commit_grant(_grant("rw-a", used_fen=0))
    assert repo.commit_grant(_grant("rw-b", used_fen=0)) is GrantOutcome.COUNTERS_MOVED
    assert repo.counters("ww-1", "g1", "r1", "2026-03", 1).used_fen == 100


def test_a_reward_stored_under_another_occurrence_is_already_applied() -> None:
    repo = TableGuideRepository(MemoryTable())
    repo.commit_grant(_grant("rw-a", used_fen=0))
    again = _grant("rw-a", used_fen=100)
    moved = replace(again, occurrence={**again.occurrence, "source": "elsewhere"}, reward_id="rw-other")
    assert repo.commit_grant(moved) is GrantOutcome.ALREADY_APPLIED


def test_rewards_are_listed_newest_first_for_the_tenant_and_per_guide() -> None:
    table = MemoryTable()
    repo = TableGuideRepository(table)
    repo.commit_grant(_grant("rw-a", used_fen=0))
    later = _grant("rw-b", used_fen=100)
    assert later.reward is not None
    repo.commit_grant(replace(later, reward={**later.reward, "created_at": "2026-03-02T09:30:00Z"}))
    for page in (1, 10):  # one reward a page: the cursor goes on
        assert [r["reward_id"] for r in stored_rewards(repo, "ww-1", page=page)] == ["rw-b", "rw-a"]
        assert [r["reward_id"] for r in stored_rewards(repo, "ww-1", "g1", page)] == ["rw-b", "rw-a"]
    assert stored_rewards(repo, "ww-1", "g2") == []
    assert all("pk" not in r and "gsi2pk" not in r for r in stored_rewards(repo, "ww-1"))


def test_query_all_reads_every_page() -> None:
    table = MemoryTable()
    for n in range(1_203):
        table.transact([Put({"pk": "T#ww-1#MANY", "sk": f"{n:05d}"})])
    assert [item["sk"] for item in query_all(table, "T#ww-1#MANY")] == [f"{n:05d}" for n in range(1_203)]


class _CountingTable(MemoryTable):
    def __init__(self) -> None:
        super().__init__()
        self.queries = 0

    def query(self, partition: str, **options: Any) -> Page:
        self.queries += 1
        return super().query(partition, **options)


def test_query_iter_reads_the_next_page_only_when_the_caller_reaches_it() -> None:
    table = _CountingTable()
    for n in range(25):
        table.transact([Put({"pk": "T#ww-1#MANY", "sk": f"{n:05d}"})])
    items = query_iter(table, "T#ww-1#MANY", sk_at_least="00003", sk_at_most="00021", page_size=5)
    assert table.queries == 0
    assert [next(items)["sk"] for _ in range(5)] == [f"{n:05d}" for n in range(3, 8)]
    assert table.queries == 1
    assert next(items)["sk"] == "00008"
    assert table.queries == 2
    assert [item["sk"] for item in items] == [f"{n:05d}" for n in range(9, 22)]
    assert table.queries == 4


def test_a_grant_adds_to_the_tenants_its_outlets_and_its_guides_counters_once() -> None:
    table = MemoryTable()
    repo = TableGuideRepository(table)
    repo.commit_grant(_grant("rw-a", used_fen=0))
    assert repo.commit_grant(_grant("rw-a", used_fen=100)) is GrantOutcome.ALREADY_APPLIED
    assert repo.reward_totals("ww-1", "2026-03-01", "2026-03-01")["records"] == 1
    assert repo.outlet_totals("ww-1", ["o1"], None, None)["records"] == 1
    assert repo.outlet_totals("ww-1", ["o2"], None, None)["records"] == 0
    assert repo.guide_totals("ww-1", "g1", "2026-03-01", "2026-03-01", lambda _: True)["records"] == 1
    assert repo.guide_totals("ww-1", "g1", None, None, lambda outlet: outlet != "o1")["records"] == 0
    assert repo.guide_totals("ww-1", "g1", "2026-03-02", None, lambda _: True)["records"] == 0
    assert repo.month_earnings("ww-1", "g1") == {"2026-03": 0}
