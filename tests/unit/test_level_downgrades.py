"""Seed 001 §2.3.3 (3)–(4): downgrade rules and retention, each seed example its own test, on the
in-memory table through the product's own dispatch and the scheduled assessment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from incentives.core.errors import InvalidInput
from incentives.levels.assessment import ChangeKind, CheckKind
from incentives.levels.settings import LevelSettings, check
from incentives.levels.views import history
from incentives.webhook.models import OrderCompleted, OrderRefunded, ReferralClicked, RefundLine
from tests.support import paid_fact
from tests.support.levels import CORP, LevelWorld

DAY = timedelta(days=1)


def sh(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """An instant given in Shanghai time (the merchant's), as UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def _by_deal(yuan: int, **level: Any) -> dict[str, Any]:
    return {"threshold": {"conditions": [{"metric": "deal_fen", "at_least": yuan * 100}]}, **level}


def _by_paid(orders: int, **level: Any) -> dict[str, Any]:
    return {"threshold": {"conditions": [{"metric": "paid_orders", "at_least": orders}]}, **level}


def _world(start: datetime) -> LevelWorld:
    """A joined at ``start`` and has customer C bound."""
    world = LevelWorld.create(start)
    world.join("A")
    world.send("click-C-A", ReferralClicked(customer_id="C", affiliate_id="A", clicked_at=start))
    return world


def _deal(world: LevelWorld, order_id: str, fen: int, counts_at: datetime) -> None:
    """C's order of ``fen`` whose deal figures count at ``counts_at`` (completed 7 days before, the
    program's after-sales window)."""
    completed = counts_at - 7 * DAY
    world.send(f"paid-{order_id}", paid_fact(order_id, "C", fen, paid_at=completed - DAY), at=completed - DAY)
    world.send(
        f"completed-{order_id}", OrderCompleted(order_id=order_id, completed_at=completed), at=completed
    )


def _paid(world: LevelWorld, order_id: str, fen: int, at: datetime) -> None:
    world.send(f"paid-{order_id}", paid_fact(order_id, "C", fen, paid_at=at), at=at)


def _last_change(world: LevelWorld) -> Any:
    return history(world.levels, CORP, "A", for_affiliate=True).changes[0]


# --- single (单次考核) -------------------------------------------------------------------------------


SINGLE_3_DAYS = (
    {"name": "一"},
    _by_deal(2_000, name="二", downgrade={"kind": "single", "after_days": 3}),
)


def test_single_check_obtained_4_12_x_3_no_2000_yuan_over_4_12_to_4_14_goes_to_the_previous_level() -> None:
    world = _world(sh(3, 20))
    world.set_levels(*SINGLE_3_DAYS)
    _deal(world, "O1", 200_000, counts_at=sh(4, 11, 23, 0))  # counted on 4.11, assessed on 4.12
    world.run_job(sh(4, 12, 0, 5))
    assert world.rank("A") == 2 and world.levels.standing(CORP, "A").due_at == sh(4, 15, 0, 0)
    world.run_job(sh(4, 14, 23, 59))
    assert world.rank("A") == 2
    world.run_job(sh(4, 15, 0, 1))
    assert world.rank("A") == 1
    why = _last_change(world)
    assert (why.kind, why.check, why.from_rank, why.to_rank) == (ChangeKind.DOWNGRADE, CheckKind.SINGLE, 2, 1)
    assert (why.threshold.window_from, why.threshold.window_to) == (date(2026, 4, 12), date(2026, 4, 14))
    assert [(c.value, c.at_least, c.met) for c in why.threshold.conditions] == [(0, 200_000, False)]
    assert why.trigger.source == "time" and why.retention is None


def test_single_check_passed_when_2000_yuan_count_within_4_12_to_4_14() -> None:
    world = _world(sh(3, 20))
    world.set_levels(*SINGLE_3_DAYS)
    _deal(world, "O1", 200_000, counts_at=sh(4, 12, 9, 0))
    world.run_job(sh(4, 12, 9, 1))
    world.run_job(sh(4, 15, 0, 1))
    assert world.rank("A") == 2
    assert world.levels.standing(CORP, "A").due_at is None  # unlimited, single done: nothing by time


def test_stacking_single_check_passed_then_refunds_drop_the_deal_amount_below_the_threshold_downgrade() -> (
    None
):
    world = _world(sh(3, 20))
    world.set_levels(*SINGLE_3_DAYS)
    _deal(world, "O1", 200_000, counts_at=sh(4, 12, 9, 0))
    world.run_job(sh(4, 12, 9, 1))
    world.run_job(sh(4, 15, 0, 1))
    assert world.rank("A") == 2
    refund = OrderRefunded(
        order_id="O1",
        refund_id="R1",
        refunded_at=sh(4, 20),
        lines=[RefundLine(line_id="L0", refund_fen=50_000)],
    )
    world.send("refund-R1", refund, at=sh(4, 20))
    world.run_job(sh(4, 20, 0, 1))
    assert world.rank("A") == 1
    why = _last_change(world)
    assert (why.kind, why.check, why.to_rank) == (ChangeKind.DOWNGRADE, CheckKind.THRESHOLD, 1)
    assert why.threshold.conditions[0].value == 150_000 and why.trigger.source == "order:O1"


# --- threshold (等级门槛考核) ------------------------------------------------------------------------


def test_threshold_with_a_10_day_window_a_deal_counted_4_3_leaves_it_on_4_13_and_downgrades() -> None:
    world = _world(sh(3, 20))
    world.set_levels(
        {"name": "一"},
        _by_deal(1_000, name="二", period_days=10, downgrade={"kind": "threshold"}),
        _by_deal(2_000, name="三", period_days=10, downgrade={"kind": "threshold"}),
    )
    _deal(world, "O1", 100_000, counts_at=sh(4, 2, 12))
    _deal(world, "O2", 100_000, counts_at=sh(4, 3, 12))
    world.run_job(sh(4, 3, 12, 1))
    assert world.rank("A") == 3
    assert world.levels.standing(CORP, "A").due_at == sh(4, 12, 0, 0)  # the 4.2 deal leaves the window
    world.run_job(sh(4, 12, 0, 1))  # window 4.3–4.12: 1,000 yuan → level 2's threshold is met
    assert world.rank("A") == 2
    why = _last_change(world)
    assert (why.check, why.to_rank, why.threshold.window_from, why.threshold.window_to) == (
        CheckKind.THRESHOLD,
        2,
        date(2026, 4, 3),
        date(2026, 4, 12),
    )
    world.run_job(sh(4, 12, 23, 59))
    assert world.rank("A") == 2
    world.run_job(sh(4, 13, 0, 1))  # window 4.4–4.13: nothing
    assert world.rank("A") == 1


def test_a_level_without_downgrade_rule_keeps_its_members_whatever_their_figures() -> None:
    world = _world(sh(3, 20))
    world.set_levels({"name": "一"}, _by_deal(1_000, name="二", period_days=10))
    _deal(world, "O1", 100_000, counts_at=sh(4, 2, 12))
    world.run_job(sh(4, 2, 12, 1))
    assert world.levels.standing(CORP, "A").due_at is None
    world.run_job(sh(5, 30))
    assert world.rank("A") == 2


# --- cycle (周期循环考核) ----------------------------------------------------------------------------


CYCLE_10_DAYS = (
    {"name": "一"},
    _by_paid(1, name="二", period_days=10, downgrade={"kind": "cycle"}),
)


def test_cycle_obtained_4_12_cycles_4_12_to_4_21_and_4_22_to_5_1_each_checked_at_its_end() -> None:
    world = _world(sh(3, 20))
    world.set_levels(*CYCLE_10_DAYS)
    _paid(world, "O1", 10_000, sh(4, 12))
    world.run_job(sh(4, 12, 10, 1))
    assert world.rank("A") == 2 and world.levels.standing(CORP, "A").due_at == sh(4, 22, 0, 0)
    world.run_job(sh(4, 22, 0, 1))  # 4.12–4.21 had an order
    assert world.rank("A") == 2 and world.levels.standing(CORP, "A").due_at == sh(5, 2, 0, 0)
    world.run_job(sh(5, 1, 23, 59))
    assert world.rank("A") == 2
    world.run_job(sh(5, 2, 0, 1))  # 4.22–5.1 had none
    assert world.rank("A") == 1
    why = _last_change(world)
    assert (why.kind, why.check, why.to_rank) == (ChangeKind.DOWNGRADE, CheckKind.CYCLE, 1)
    assert (why.threshold.window_from, why.threshold.window_to) == (date(2026, 4, 22), date(2026, 5, 1))


def test_cycle_an_order_on_the_last_day_of_the_cycle_keeps_the_level_and_the_next_cycle_starts() -> None:
    world = _world(sh(3, 20))
    world.set_levels(*CYCLE_10_DAYS)
    _paid(world, "O1", 10_000, sh(4, 12))
    world.run_job(sh(4, 12, 10, 1))
    world.run_job(sh(4, 22, 0, 1))
    _paid(world, "O2", 10_000, sh(5, 1, 23, 30))
    world.run_job(sh(5, 2, 0, 1))
    assert world.rank("A") == 2 and world.levels.standing(CORP, "A").due_at == sh(5, 12, 0, 0)


def test_cycle_goes_to_the_named_level() -> None:
    world = _world(sh(3, 20))
    world.set_levels(
        {"name": "一"},
        {"name": "二", "strategy": "manual"},
        _by_paid(1, name="三", period_days=10, downgrade={"kind": "cycle", "to_rank": 1}),
    )
    _paid(world, "O1", 10_000, sh(4, 12))
    world.run_job(sh(4, 12, 10, 1))
    assert world.rank("A") == 3
    world.run_job(sh(4, 22, 0, 1))
    world.run_job(sh(5, 2, 0, 1))
    assert world.rank("A") == 1


# --- retention (保级) -------------------------------------------------------------------------------


def _retention_world(paid_at: datetime) -> LevelWorld:
    """Level 2: deal amount of 1,000 yuan in 10 days, threshold check; retention: received amount
    of 10 yuan within 3 days. The 4.2 deal leaves the window on 4.12: the downgrade triggers then."""
    world = _world(sh(3, 20))
    world.set_levels(
        {"name": "一"},
        _by_deal(
            1_000,
            name="二",
            period_days=10,
            downgrade={"kind": "threshold"},
            retention={"days": 3, "conditions": [{"metric": "received_fen", "at_least": 1_000}]},
        ),
    )
    _deal(world, "O1", 100_000, counts_at=sh(4, 2, 12))
    world.run_job(sh(4, 2, 12, 1))
    _paid(world, "O2", 1_000, paid_at)
    world.run_job(paid_at + timedelta(minutes=1))
    return world


def test_retention_triggered_4_12_received_10_yuan_over_4_10_to_4_12_keeps_the_level() -> None:
    world = _retention_world(sh(4, 10, 9))
    world.run_job(sh(4, 12, 0, 1))
    assert world.rank("A") == 2
    assert world.levels.standing(CORP, "A").due_at == sh(4, 13, 0, 0)  # re-checked as its window slides
    world.run_job(sh(4, 13, 0, 1))  # 4.11–4.13: the 4.10 payment is out
    assert world.rank("A") == 1
    why = _last_change(world)
    assert why.retention is not None and not why.retention.met
    assert (why.retention.window_from, why.retention.window_to) == (date(2026, 4, 11), date(2026, 4, 13))


def test_retention_triggered_4_12_received_on_4_9_is_outside_4_10_to_4_12_and_downgrades() -> None:
    world = _retention_world(sh(4, 9, 23))
    world.run_job(sh(4, 12, 0, 1))
    assert world.rank("A") == 1
    why = _last_change(world)
    assert why.retention is not None and not why.retention.met
    assert (why.retention.window_from, why.retention.window_to) == (date(2026, 4, 10), date(2026, 4, 12))
    assert [(c.metric.value, c.value, c.at_least) for c in why.retention.conditions] == [
        ("received_fen", 0, 1_000)
    ]


# --- the rules' own checks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "field"),
    [
        (_by_paid(1, name="二", downgrade={"kind": "cycle"}), "levels.1.downgrade.kind"),
        (_by_paid(1, name="二", downgrade={"kind": "single"}), "levels.1.downgrade.after_days"),
        (_by_paid(1, name="二", downgrade={"kind": "threshold", "to_rank": 1}), "levels.1.downgrade.to_rank"),
        (
            _by_paid(1, name="二", period_days=10, downgrade={"kind": "cycle", "to_rank": 2}),
            "levels.1.downgrade.to_rank",
        ),
        (
            _by_paid(1, name="二", retention={"days": 3, "conditions": [{"metric": "received_fen"}]}),
            "levels.1.retention",
        ),
        ({"name": "二", "strategy": "manual", "downgrade": {"kind": "threshold"}}, "levels.1.downgrade.kind"),
    ],
)
def test_downgrade_rules_are_checked_per_period_type_each_error_naming_its_field(
    level: dict[str, Any], field: str
) -> None:
    """不限期: none / threshold / single; N days: also cycle. A cycle needs N days, a single check
    its X days, a named target lies below, retention belongs to a downgrade rule."""
    with pytest.raises(InvalidInput) as refused:
        check(LevelSettings.model_validate({"levels": [{"name": "一"}, level]}))
    assert refused.value.field == field


def test_a_cycle_check_into_a_level_whose_threshold_is_not_met_goes_on_down_by_that_threshold_next_day() -> (
    None
):
    """Level 3's cycle check sends A to level 2 (the level below), whose 10-day threshold check
    finds nothing in its window: the day after, A goes on down to level 1 without any new figure."""
    world = _world(sh(3, 20))
    world.set_levels(
        {"name": "一"},
        _by_paid(1, name="二", period_days=10, downgrade={"kind": "threshold"}),
        _by_paid(2, name="三", period_days=10, downgrade={"kind": "cycle"}),
    )
    _paid(world, "O1", 10_000, sh(4, 12))
    _paid(world, "O2", 10_000, sh(4, 12, 11))
    world.run_job(sh(4, 12, 11, 1))
    assert world.rank("A") == 3
    world.run_job(sh(4, 22, 0, 1))  # the cycle 4.12–4.21 had both orders: passed
    world.run_job(sh(5, 2, 0, 1))  # 4.22–5.1: none, down to level 2, whose window 4.23–5.2 is empty
    assert world.rank("A") == 2
    assert world.levels.standing(CORP, "A").due_at == sh(5, 3, 0, 0)
    world.run_job(sh(5, 3, 0, 1))
    assert world.rank("A") == 1
    assert _last_change(world).check is CheckKind.THRESHOLD
