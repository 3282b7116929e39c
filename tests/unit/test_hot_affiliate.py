"""Concurrent ``order.paid`` for one affiliate on the contention model (``bench.contention``): the real
consumers, DynamoDB's transaction conflicts on simulated time, the production retry policy."""

from __future__ import annotations

import pytest

from bench.contention import HOLD_MS, Result, hot_affiliate, run
from incentives.core.retry import RetryPolicy
from incentives.storage import ledger, level_items, level_standings


def test_concurrent_orders_of_one_affiliate_end_with_exact_balances_and_nothing_exhausted() -> None:
    result = run(hot_affiliate(), 2.0)
    assert result.orders > 150 and result.conflicts > 20  # they did run into each other
    assert result.exhausted == 0 and result.applied == result.orders
    assert result.money_problems == ()
    assert result.credited_fen == result.expected_fen > 0


def test_without_retries_conflicting_orders_are_lost_and_the_money_check_says_so() -> None:
    result: Result = run(hot_affiliate(), 2.0, policy=RetryPolicy(attempts=1))
    assert result.exhausted == result.conflicts > 20
    assert result.applied + result.exhausted == result.orders
    assert result.credited_fen < result.expected_fen
    assert any("expected" in problem for problem in result.money_problems)
    assert all("expected" in problem for problem in result.money_problems)  # balances still sum their entries


def test_the_same_seed_gives_the_same_run() -> None:
    first, again = run(hot_affiliate(), 1.0), run(hot_affiliate(), 1.0)
    assert (first.conflicts, first.retries, first.credited_fen) == (
        again.conflicts,
        again.retries,
        again.credited_fen,
    )


def test_one_unsharded_hot_item_makes_orders_exhaust_their_attempts_at_a_realistic_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The model can fail: with the balance on one item again (the level figures still sharded),
    100 orders/s over a 12 ms hold is past the item's ceiling and orders run out of attempts."""
    assert HOLD_MS >= 10
    monkeypatch.setattr(ledger, "BALANCE_SHARDS", 1)
    result = run(hot_affiliate(), 3.0)
    assert result.exhausted > 0 and result.applied < result.orders
    assert result.credited_fen < result.expected_fen
    assert all("expected" in problem for problem in result.money_problems)  # what applied is exact


def test_so_does_an_unsharded_level_standing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(level_items, "STANDING_SHARDS", 1)
    monkeypatch.setattr(level_standings, "STANDING_SHARDS", 1)
    result = run(hot_affiliate(), 3.0)
    assert result.exhausted > 0 and result.credited_fen < result.expected_fen
