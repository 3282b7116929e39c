"""The benchmark scripts run and report their ratios (the figures themselves are in the README)."""

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support import ROOT


def _run(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_round_trips_of_an_order_paid_stay_within_budget() -> None:
    output = _run("bench.round_trips")
    for path in ("processor: apply order.paid", "processor: order.paid, affiliate + upline + levels"):
        processor = next(line for line in output.splitlines() if line.startswith(path))
        trips = int(re.search(r"(\d+) round trips", processor).group(1))  # type: ignore[union-attr]
        assert trips <= 3, processor
    assert "webhook: accept order.paid" in output and "payout worker" in output


def test_listing_pages_cost_the_same_round_trips_in_a_small_and_a_ten_times_larger_tenant() -> None:
    output = _run("bench.listings", "--small", "200", "--large", "2000")
    rows = [line for line in output.splitlines() if re.search(r"\d+ / \d+", line)]
    assert len(rows) == 5 and all(line.endswith("ok") for line in rows), output
    for line in rows:  # a sharded listing: one query per shard (16), plus the totals' or settings' reads
        first_page = int(re.findall(r"(\d+) / ", line)[0])
        assert 16 <= first_page <= 32, line


def test_the_listing_benchmark_fails_when_a_page_grows_with_the_tenant(monkeypatch: Any) -> None:
    import bench.listings as bench

    sizes = iter([{"affiliates": (17, 17)}, {"affiliates": (17, 40)}])
    monkeypatch.setattr(bench, "fill", lambda table, start, stop: 0.0)
    monkeypatch.setattr(bench, "measure", lambda table, page: next(sizes))
    assert bench.main(["--small", "1", "--large", "2"]) == 1


def test_cold_start_reports_a_ratio_per_function() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.cold_start", "--rounds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    from infra.local.template import read_stack

    for function in read_stack().functions:
        assert re.search(
            rf"^{function}\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+(ok|OVER BUDGET)$", result.stdout, re.M
        ), result.stdout + result.stderr


def test_make_bench_runs_every_benchmark_and_fails_only_at_the_end(tmp_path: Path) -> None:
    """A benchmark over budget must not hide the figures of those after it."""
    ran = tmp_path / "ran"
    interpreter = tmp_path / "python"  # stands in for the venv's: records each benchmark, the first is over
    script = f'#!/bin/sh\necho "$2" >> "{ran}"\n[ "$2" != bench.cold_start ]\n'
    interpreter.write_text(script, encoding="utf-8")
    interpreter.chmod(0o755)
    result = subprocess.run(
        ["make", "-s", "-o", ".venv/.installed", "bench", f"PY={interpreter}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    ran_in_order = ran.read_text(encoding="utf-8").split()
    assert ran_in_order == [
        "bench.cold_start",
        "bench.round_trips",
        "bench.fanout",
        "bench.levels",
        "bench.listings",
    ]
    assert result.returncode != 0
    assert "bench.cold_start" in result.stdout
