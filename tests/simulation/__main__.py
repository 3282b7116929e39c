"""Replay one simulation seed with its trace: ``python -m tests.simulation --seed N``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "layers" / "incentives" / "python"))

from tests.simulation.world import InvariantViolation, run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    try:
        world = run(args.seed, args.steps, verbose=True)
    except InvariantViolation as violation:
        print(violation, file=sys.stderr)
        return 1
    print(
        f"seed {args.seed}: {len(world.payout_ids)} payouts, {len(world.books.transfers_made())} transfers, "
        "all invariants held"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
