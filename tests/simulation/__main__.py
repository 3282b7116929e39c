"""Run the simulation outside pytest.

python -m tests.simulation --seed N          # replay one seed with its trace
python -m tests.simulation --seeds 2000      # run seeds 0 … 1999, report every failure
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "layers" / "incentives" / "python"))

from tests.simulation.world import InvariantViolation, run


def replay(seed: int, steps: int) -> int:
    try:
        world = run(seed, steps, verbose=True)
    except InvariantViolation as violation:
        print(violation, file=sys.stderr)
        return 1
    print(
        f"seed {seed}: {len(world.payout_ids)} payouts, {len(world.books.transfers_made())} transfers, "
        "all checks held"
    )
    return 0


def many(seeds: int, steps: int) -> int:
    started, failed = time.monotonic(), 0
    for seed in range(seeds):
        try:
            run(seed, steps)
        except InvariantViolation as violation:
            failed += 1
            print(violation, file=sys.stderr)
    print(f"{seeds - failed} passed, {failed} failed ({time.monotonic() - started:.0f} s)")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--seed", type=int, help="replay this seed, printing every step")
    which.add_argument("--seeds", type=int, help="run this many seeds (0 … N-1)")
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    return replay(args.seed, args.steps) if args.seed is not None else many(args.seeds, args.steps)


if __name__ == "__main__":
    sys.exit(main())
