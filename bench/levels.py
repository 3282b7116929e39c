"""Level assessment at scale: reads and writes per due affiliate and per run (SPEC §6).

    python -m bench.levels [--affiliates 100000] [--due-percent 1]

Builds a tenant of ``--affiliates`` affiliates on the in-memory table (the product's own writes),
``--due-percent`` of them on a level with a 10-day cycle check ending now (a time-driven check is
due, nothing else), then runs the scheduled assessment once and counts every table operation it
makes. Also runs it once more (nothing due: reads only the due entries) and prints the arithmetic
for 1,000,000 affiliates inside Lambda's 15-minute limit. Then a second tenant, as many affiliates
as were due, changes its level rules: the run re-levels it (its job's pages mark every affiliate,
each is assessed) and the cost per affected affiliate is printed, with what it would be for
1,000,000 affected. Exits 1 if the work is not proportional to the affiliates due, or to the
affiliates a rule change affects (the other tenant's items are never written).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "layers" / "incentives" / "python"))

CORP = "bench-levels"
CHANGED = "bench-levels-changed"
"""The tenant whose rules change (as many affiliates as the first has due)."""
SQS_HOP_MS = 40
"""A message from one invocation to the next through SQS (send, poll, invoke)."""
TZ = "Asia/Shanghai"
LATENCY_MS = 8
"""A DynamoDB round trip from Lambda in the same region, as budgeted (single-digit ms)."""
LAMBDA_SECONDS = 15 * 60
BATCH = 100
"""Affiliates per SQS message of the fan-out (one worker invocation assesses a batch)."""
CONCURRENCY = 50
"""Workers the fan-out runs at once (a modest reserved concurrency)."""


def _counting_table() -> Any:
    from incentives.storage.memory_table import MemoryTable

    class CountingTable(MemoryTable):
        """Every call the repository makes, and every item a transaction writes."""

        def __init__(self) -> None:
            super().__init__()
            self.calls: Counter[str] = Counter()

        def get(self, key: Any) -> Any:
            self.calls["read"] += 1
            return super().get(key)

        def get_many(self, keys: Sequence[Any]) -> Any:
            self.calls["read"] += -(-len(keys) // 100)  # BatchGetItem: 100 keys a call
            return [MemoryTable.get(self, key) for key in keys]

        def query(self, partition: str, **options: Any) -> Any:
            self.calls["read"] += 1
            return super().query(partition, **options)

        def transact(self, writes: Sequence[Any]) -> None:
            self.calls["write"] += 1
            self.calls["items written"] += len(writes)
            for write in writes:
                key = write.item if hasattr(write, "item") else write.key
                self.calls["written in " + str(key["pk"]).split("#")[1]] += 1
            super().transact(writes)

    return CountingTable()


def build(table: Any, affiliates: int, due: int, now: datetime, corp_id: str = CORP) -> None:
    """``affiliates`` at level 1; ``due`` of them at level 2 since 10 days ago, their cycle due now."""
    from incentives.levels.assessment import ChangeKind, LevelChange
    from incentives.levels.service import save_settings
    from incentives.levels.settings import LevelSettings
    from incentives.storage.level_items import initial_change, joining_writes
    from incentives.storage.levels import TableLevelRepository

    repo = TableLevelRepository(table)
    levels = LevelSettings.model_validate(
        {
            "levels": [
                {"name": "普通"},
                {
                    "name": "循环",
                    "period_days": 10,
                    "threshold": {"conditions": [{"metric": "paid_orders", "at_least": 1}]},
                    "downgrade": {"kind": "cycle"},
                },
            ]
        }
    )
    obtained = now - timedelta(days=10)
    stored = save_settings(repo, corp_id, levels, obtained)
    every = max(1, affiliates // max(1, due))
    for n in range(affiliates):
        affiliate = f"aff-{n:07d}"
        table.transact(joining_writes(corp_id, affiliate, initial_change(affiliate, obtained, stored)))
        if n % every == 0 and n // every < due:
            standing = repo.standing(corp_id, affiliate)
            change = LevelChange(
                kind=ChangeKind.MANUAL,
                version=2,
                from_rank=1,
                from_name="普通",
                to_rank=2,
                to_name="循环",
                at=obtained,
                rule_version=stored.version,
                reason="bench",
                actor="bench",
            )
            repo.commit(standing, change, obtained, assessed=True, due_at=now, rule_version=stored.version)


def main(argv: Sequence[str] | None = None) -> int:
    from incentives.levels.service import run_assessment
    from incentives.storage.levels import TableLevelRepository
    from incentives.storage.orders import TableOrderRepository

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--affiliates", type=int, default=100_000)
    parser.add_argument("--due-percent", type=float, default=1.0)
    options = parser.parse_args(argv)
    population, due = options.affiliates, max(1, round(options.affiliates * options.due_percent / 100))
    now = datetime(2026, 4, 22, 0, 1, tzinfo=UTC)

    table = _counting_table()
    started = time.perf_counter()
    build(table, population, due, now)
    print(f"levels: built {population:,} affiliates, {due:,} due, in {time.perf_counter() - started:.1f} s")

    repo, orders = TableLevelRepository(table), TableOrderRepository(table)
    table.calls.clear()
    started = time.perf_counter()
    done = run_assessment(repo, orders, now, TZ)
    elapsed = time.perf_counter() - started
    run = Counter(table.calls)
    table.calls.clear()
    idle = run_assessment(repo, orders, now + timedelta(minutes=1), TZ)
    quiet = Counter(table.calls)

    per_read, per_write = run["read"] / due, run["write"] / due
    print(f"levels: run with {due:,} due: {done}")
    print(
        f"levels: reads {run['read']:,} ({per_read:.2f} per due affiliate), writes {run['write']:,} "
        f"({per_write:.2f} per due affiliate, {run['items written']:,} items), {elapsed:.2f} s locally"
    )
    print(f"levels: next run, nothing due: {idle}, reads {quiet['read']}, writes {quiet['write']}")
    million_due = 1_000_000 * options.due_percent / 100
    trips = per_read + per_write
    sequential = million_due * trips * LATENCY_MS / 1000
    fanned = sequential / CONCURRENCY
    print(
        f"levels: 1,000,000 affiliates, {million_due:,.0f} due: {trips:.1f} round trips each "
        f"x {LATENCY_MS} ms = {sequential:,.0f} s in one function; fanned out in messages of {BATCH} "
        f"over {CONCURRENCY} workers = {fanned:,.0f} s ({million_due / BATCH:,.0f} messages, each "
        f"{BATCH * trips * LATENCY_MS / 1000:.1f} s) — limit {LAMBDA_SECONDS} s"
    )
    proportional = done["level_changes"] == due and quiet["write"] == 0 and per_read < 20 and per_write <= 2
    within = fanned < LAMBDA_SECONDS
    if not proportional:
        print("levels: NOT proportional to the affiliates due")
    if not within:
        print("levels: OVER the 15-minute limit at 1,000,000")
    return 0 if proportional and within and rule_change(table, due, now) else 1


def rule_change(table: Any, affected: int, now: datetime) -> bool:
    """A second tenant of ``affected`` affiliates changes its rules; the run re-levels every one of
    them. Prints the cost per affected affiliate and per page; True when it is proportional."""
    from incentives.levels.service import RELEVEL_PAGE, relevel_page, run_assessment, save_settings
    from incentives.levels.settings import LevelSettings
    from incentives.storage.levels import TableLevelRepository
    from incentives.storage.orders import TableOrderRepository

    build(table, affected, 0, now, CHANGED)
    repo, orders = TableLevelRepository(table), TableOrderRepository(table)
    harder = LevelSettings.model_validate(
        {
            "levels": [
                {"name": "普通"},
                {"name": "严格", "threshold": {"conditions": [{"metric": "paid_orders", "at_least": 5}]}},
            ]
        }
    )
    at = now + timedelta(minutes=2)
    table.calls.clear()
    save_settings(repo, CHANGED, harder, at)
    change = Counter(table.calls)
    table.calls.clear()
    marked, pages = 0, 0
    page = relevel_page(repo, None, CHANGED, at, RELEVEL_PAGE)  # on AWS: one message each, a chain
    while page is not None:
        marked, pages = marked + len(page.marked), pages + 1
        page = relevel_page(repo, page.next, CHANGED, at, RELEVEL_PAGE) if page.next else None
    marking = Counter(table.calls)
    table.calls.clear()
    done = run_assessment(repo, orders, at, TZ)  # every affiliate marked (on AWS: sent by its page)
    assessing = Counter(table.calls)
    mark_trips = (marking["read"] + marking["write"]) / pages
    assess_trips = (assessing["read"] + assessing["write"]) / affected
    print(
        f"levels: rule change in a tenant of {affected:,}: the change {change['write']} write "
        f"({change['items written']} items); marking {marked:,} in {pages} pages: reads {marking['read']:,}, "
        f"writes {marking['write']:,} ({marking['items written']:,} items, "
        f"{marking['items written'] / affected:.2f} per affected); assessing: reads {assessing['read']:,} "
        f"({assessing['read'] / affected:.2f} per affected), writes {assessing['write']:,} "
        f"({assessing['write'] / affected:.2f} per affected); items written in the other tenant: "
        f"{marking['written in ' + CORP] + assessing['written in ' + CORP]}"
    )
    million_pages = 1_000_000 / RELEVEL_PAGE
    page_seconds = mark_trips * LATENCY_MS / 1000
    chain = million_pages * (page_seconds + SQS_HOP_MS / 1000)
    assess_fanned = 1_000_000 * assess_trips * LATENCY_MS / 1000 / CONCURRENCY
    print(
        f"levels: 1,000,000 affected: {million_pages:,.0f} pages of {RELEVEL_PAGE}, each {mark_trips:.0f} "
        f"round trips = {page_seconds:.2f} s in its own invocation (limit {LAMBDA_SECONDS} s), one after "
        f"another with a {SQS_HOP_MS} ms hop = {chain:,.0f} s to mark everyone; their assessments "
        f"({assess_trips:.1f} round trips each) fanned out over {CONCURRENCY} workers as the pages go = "
        f"{assess_fanned:,.0f} s"
    )
    untouched = marking["written in " + CORP] + assessing["written in " + CORP] == 0
    proportional = (
        marked == affected
        and assessing["write"] == affected  # each assessed once
        and done["level_changes"] == 0  # nobody meets the harder level
        and untouched
        and change["write"] == 1
        and marking["items written"] <= affected + pages
        and assessing["read"] <= 20 * affected + 100
    )
    if not proportional:
        print("levels: rule change NOT proportional to the affiliates it affects")
    if page_seconds >= LAMBDA_SECONDS:
        print("levels: a re-levelling page is OVER the 15-minute limit")
    return proportional and page_seconds < LAMBDA_SECONDS


if __name__ == "__main__":
    raise SystemExit(main())
