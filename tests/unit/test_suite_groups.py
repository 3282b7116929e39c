"""``make test`` runs the end-to-end files on one worker, in order, against one local stack
(tests/conftest.py marks them, xdist's ``loadgroup`` keeps a group on one worker). Checked on a
small suite of its own with the project's hook: if the groups stop holding (a pytest or xdist
version that ignores them), the README's blocks would run on two stacks, out of order."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.support import ROOT

GROUPED = """
import os, time
import pytest

@pytest.mark.parametrize("n", range(4))
def test_step(n):
    time.sleep(0.2)
    with open(os.environ["GROUP_LOG"], "a") as log:
        log.write(f"{__name__} {os.environ['PYTEST_XDIST_WORKER']}\\n")
"""


def test_the_end_to_end_files_run_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import pytest_collection_modifyitems  # noqa\n"
    )
    e2e = tmp_path / "suite" / "tests" / "e2e"
    e2e.mkdir(parents=True)
    for name in ("test_first.py", "test_second.py"):
        (e2e / name).write_text(GROUPED)
    control = tmp_path / "suite" / "tests" / "unit"  # a file of its own group: the other worker's
    control.mkdir(parents=True)
    (control / "test_control.py").write_text(GROUPED)
    log = tmp_path / "workers.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GROUP_LOG": str(log)}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "-q",
            "-p",
            "no:cacheprovider",
            "-c",
            os.devnull,
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    ran = [line.split() for line in log.read_text().splitlines()]
    end_to_end = [worker for module, worker in ran if module != "test_control"]
    workers = set(end_to_end)
    assert len(end_to_end) == 8
    assert len(workers) == 1, f"the end-to-end files ran on {sorted(workers)}"
    # The suite really had two workers to spread over: the other group ran on the other one.
    assert {worker for module, worker in ran if module == "test_control"} - workers, ran


def _collected(hash_seed: str) -> list[str]:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "tests"],  # one id a line (addopts has -q)
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return [line for line in run.stdout.splitlines() if "::" in line]


def test_two_collections_seconds_apart_name_the_same_tests() -> None:
    """Each xdist worker collects the suite itself and the run stops if they disagree, in ids or
    in order: a test id made from the clock (a token minted at collection, a timestamp) differs
    between workers that collect in different seconds, which a busy machine makes likely; an order
    taken from a set differs between interpreters with other hash seeds."""
    first = _collected("1")
    time.sleep(1.1)
    second = _collected("2")
    assert len(first) > 1_000
    assert first == second
