"""Scheduled fan-out: reads, writes and queue sends per due item, side by side at 1,000 / 10,000 /
100,000 due (SPEC §6: proportional to what is due, no cap per run).

    python -m bench.fanout [--sizes 1000,10000,100000]

Each size runs one scheduled run end to end on the in-memory table (every round trip counted as
DynamoDB and SQS would bill it): the schedule's shard messages, each shard read page by page into
item messages (10 per SendMessageBatch), and each item's unit. Two jobs: ledger settlement (one
hold per due item) and level assessment (one affiliate owed an assessment per due item). Then the
arithmetic for 1,000,000 level assessments within Lambda's 15 minutes. Exits 1 if a per-item
figure moves by more than 0.05 round trips between sizes, or if a run leaves anything due.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "layers" / "incentives" / "python"))

T0 = datetime(2026, 11, 1, tzinfo=UTC)
TOLERANCE = 0.05
"""Round trips per item two sizes may differ by (the run's fixed 16-shard cost spread thinner)."""
CORP = "ww-bench"


def _settlement(size: int) -> tuple[Any, dict[Any, datetime], dict[Any, Any], datetime, Callable[[], int]]:
    from incentives.fanout.model import DueQueue
    from incentives.ledger import postings
    from incentives.ledger.model import Account, OwnerKind
    from incentives.ledger.service import settle_hold
    from incentives.storage.ledger import LedgerRepository
    from tests.support.fanout import CountingTable

    table = CountingTable()
    ledger = LedgerRepository(table)
    for n in range(size):
        guide = Account(CORP, OwnerKind.GUIDE, f"g{n % 997}")
        ledger.credit(postings.credit(guide, f"credit:c-{n}", 100, T0), hold_until=T0 + timedelta(days=7))
    at = T0 + timedelta(days=8)

    def settle(entry: dict[str, Any], as_of: datetime) -> dict[str, int]:
        return {"settled": int(settle_hold(ledger, ledger.hold_from_due(entry), as_of))}

    return table, {DueQueue.HOLDS: at}, {DueQueue.HOLDS: settle}, at, lambda: len(ledger.holds_due(at))


def _assessment(size: int) -> tuple[Any, dict[Any, datetime], dict[Any, Any], datetime, Callable[[], int]]:
    from incentives.fanout.model import DueQueue
    from incentives.levels import service
    from incentives.levels.settings import LevelSettings
    from incentives.storage.levels import TableLevelRepository
    from tests.support.fanout import CountingTable

    table = CountingTable()
    levels = TableLevelRepository(table)
    settings = LevelSettings.model_validate(
        {
            "levels": [
                {"name": "一"},
                {"name": "二", "threshold": {"conditions": [{"metric": "paid_orders", "at_least": 1}]}},
            ]
        }
    )
    service.save_settings(levels, CORP, settings, T0)
    for n in range(size):  # each one's next check (a cycle's end, a single check …) comes due
        levels.schedule_assessment(CORP, f"a{n}", T0 + timedelta(hours=1))
    at = T0 + timedelta(hours=2)

    def assess(entry: dict[str, Any], as_of: datetime) -> dict[str, int]:
        return service.assess_due_affiliate(levels, levels.due_affiliate(entry), as_of, "Asia/Shanghai")

    return (
        table,
        {DueQueue.LEVEL_ASSESSMENTS: at},
        {DueQueue.LEVEL_ASSESSMENTS: assess},
        at,
        lambda: len(levels.due_affiliates(at)),
    )


JOBS = {"settlement": _settlement, "level assessment": _assessment}


def measure(job: str, size: int) -> dict[str, float]:
    from tests.support.fanout import run_fanned_out

    table, cutoffs, units, at, left = JOBS[job](size)
    table.calls.reads = table.calls.writes = table.calls.sends = 0
    started = time.perf_counter()
    _, entries = run_fanned_out(table, cutoffs, units, at)
    seconds = time.perf_counter() - started
    calls = table.calls
    return {
        "entries": entries,
        "reads": calls.reads / size,
        "writes": calls.writes / size,
        "sends": calls.sends / size,
        "left": left(),
        "seconds": seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout")
    parser.add_argument("--sizes", default="1000,10000,100000")
    sizes = [int(size) for size in parser.parse_args(argv).sizes.split(",")]
    failed: list[str] = []
    per_item: dict[str, dict[str, float]] = {}
    print(f"scheduled fan-out: round trips per due item (in-memory table), sizes {sizes}")
    for job in JOBS:
        rows = {size: measure(job, size) for size in sizes}
        print(f"\n{job}")
        print(f"  {'due items':>12} " + " ".join(f"{size:>10,}" for size in sizes))
        for figure in ("reads", "writes", "sends"):
            values = [rows[size][figure] for size in sizes]
            print(f"  {figure + ' / item':>12} " + " ".join(f"{value:>10.3f}" for value in values))
            if max(values) - min(values) > TOLERANCE:
                failed.append(f"{job}: {figure} per item not constant ({values})")
        print(f"  {'done':>12} " + " ".join(f"{int(rows[size]['entries']):>10,}" for size in sizes))
        print(f"  {'left due':>12} " + " ".join(f"{int(rows[size]['left']):>10,}" for size in sizes))
        print(f"  {'seconds':>12} " + " ".join(f"{rows[size]['seconds']:>10.1f}" for size in sizes))
        for size in sizes:
            if rows[size]["entries"] != size or rows[size]["left"]:
                failed.append(
                    f"{job}: {size:,} due, {rows[size]['entries']:,} done, {rows[size]['left']:,} left"
                )
        per_item[job] = rows[sizes[-1]]
    _arithmetic(per_item["level assessment"])
    for failure in failed:
        print(f"FAILED {failure}")
    return 1 if failed else 0


def _arithmetic(assessment: dict[str, float]) -> None:
    """1,000,000 level assessments within one run (SPEC §6), from the measured per-item figures."""
    from incentives.storage.due import DUE_SHARDS, PAGE_SIZE

    due, batch, concurrency = 1_000_000, 10, 500
    call_ms = 20  # a DynamoDB or SQS round trip from Lambda, generously (p50 is under 10 ms)
    per_shard = due // DUE_SHARDS
    pages, send_calls = -(-per_shard // PAGE_SIZE), -(-per_shard // batch)
    reader_s = (pages + send_calls) * call_ms / 1000
    reads, writes = assessment["reads"], assessment["writes"]
    unit_ms = (reads + writes) * call_ms
    batch_s = batch * unit_ms / 1000
    invocations = due // batch
    workers_s = invocations * batch_s / concurrency
    lines = [
        "",
        "1,000,000 level assessments in one run (Lambda's limit: 900 s per invocation)",
        f"  schedule:     {DUE_SHARDS} shard messages (2 SendMessageBatch), about 0 s",
        f"  shard reader: {per_shard:,} entries = {pages} Query pages of {PAGE_SIZE}"
        f" + {send_calls:,} SendMessageBatch",
        f"                x {call_ms} ms = {reader_s:.0f} s per reader,"
        f" {DUE_SHARDS} readers in parallel (< 900 s)",
        f"  workers:      {invocations:,} batches of {batch}; one assessment = {reads:.2f} reads"
        f" + {writes:.2f} writes (measured)",
        f"                x {call_ms} ms = {unit_ms:.0f} ms; {batch_s:.1f} s per batch (< 900 s)",
        f"                at {concurrency} concurrent workers: {invocations:,} x {batch_s:.1f} s"
        f" / {concurrency} = {workers_s:.0f} s",
        f"  the run:      about {reader_s + workers_s:.0f} s end to end (readers and workers overlap),"
        " no invocation near 900 s;",
        "                more shards or workers shorten it linearly; writes stay 1 per assessment",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
