"""The simulation's self-test: every injected defect is reported within a bounded number of seeds,
by the check meant to catch it (a check no defect can trip guards nothing)."""

from __future__ import annotations

import pytest

from tests.simulation.mutations import MUTATIONS, Mutation, injected
from tests.simulation.world import InvariantViolation, run

SEEDS_TO_CATCH = 100


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[mutation.name for mutation in MUTATIONS])
def test_the_simulation_reports_an_injected_defect(mutation: Mutation) -> None:
    reports = []
    with injected(mutation):
        for seed in range(SEEDS_TO_CATCH):
            try:
                run(seed)
            except InvariantViolation as violation:
                reports.append(str(violation))
                if mutation.caught_by in reports[-1]:
                    return
    pytest.fail(
        f"{mutation.name}: not reported by its check within {SEEDS_TO_CATCH} seeds "
        f"({len(reports)} other reports; first: {reports[0][:400] if reports else 'none'})"
    )


def test_without_defects_the_same_seeds_pass() -> None:
    for seed in range(SEEDS_TO_CATCH):
        run(seed)
