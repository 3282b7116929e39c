"""Level rules, pure (seed 001 §2.3): the settings' checks, windows, thresholds and the upgrade."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from incentives.core.errors import InvalidInput
from incentives.levels.assessment import upgrade, window_on
from incentives.levels.metrics import Metric, MetricHistory, Window
from incentives.levels.settings import LevelSettings, check, default_background

APRIL_12 = date(2026, 4, 12)


def _levels(*levels: dict[str, Any], **settings: Any) -> LevelSettings:
    return LevelSettings.model_validate({"levels": list(levels), **settings})


def _by(metric: str, at_least: int, **level: Any) -> dict[str, Any]:
    return {"threshold": {"conditions": [{"metric": metric, "at_least": at_least}]}, **level}


def _history(days: dict[date, dict[str, int]]) -> MetricHistory:
    totals: dict[str, int] = {}
    for amounts in days.values():
        for key, amount in amounts.items():
            totals[key] = totals.get(key, 0) + amount
    return MetricHistory(totals, days)


SEED_SCENARIO = _levels(
    {"name": "等级一", "strategy": "manual"},
    _by("deal_fen", 100_000, name="等级二"),
    _by("deal_fen", 200_000, name="等级三"),
    _by("deal_fen", 500_000, name="等级四"),
    {"name": "等级五", "strategy": "manual"},
    _by("invited_affiliates", 1, name="等级六"),
    _by("invited_affiliates", 2, name="等级七"),
    _by("invited_affiliates", 3, name="等级八"),
)
"""Seed 001 §2.3.2 ①: levels 1–4 by deal amount, 5 manual, 6–8 by invited affiliates."""


# --- the settings ------------------------------------------------------------------------------------


def _refused(settings: LevelSettings) -> str:
    with pytest.raises(InvalidInput) as refused:
        check(settings)
    assert refused.value.field is not None
    return refused.value.field


def test_the_seed_scenario_is_a_valid_set_of_levels() -> None:
    check(SEED_SCENARIO)


def test_a_level_name_has_at_most_6_characters() -> None:
    _levels({"name": "六个字的名字"})
    with pytest.raises(ValidationError) as refused:
        _levels({"name": "七个字的等级名"})
    assert refused.value.errors()[0]["loc"] == ("levels", 0, "name")


def test_a_manual_level_has_no_threshold_and_the_error_names_it() -> None:
    field = _refused(_levels({"name": "一"}, _by("paid_orders", 3, name="二", strategy="manual")))
    assert field == "levels.1.threshold"


def test_the_default_level_has_no_threshold() -> None:
    assert _refused(_levels(_by("paid_orders", 3, name="一"))) == "levels.0.threshold"


def test_an_automatic_level_needs_a_threshold() -> None:
    assert _refused(_levels({"name": "一"}, {"name": "二"})) == "levels.1.threshold"


def test_a_period_without_a_threshold_is_refused() -> None:
    field = _refused(_levels({"name": "一"}, {"name": "二", "strategy": "manual", "period_days": 10}))
    assert field == "levels.1.period_days"


def test_a_metric_listed_twice_in_one_threshold_is_refused_by_its_position() -> None:
    twice = {
        "name": "二",
        "threshold": {
            "match": "any",
            "conditions": [
                {"metric": "paid_orders", "at_least": 1},
                {"metric": "paid_orders", "at_least": 2},
            ],
        },
    }
    assert _refused(_levels({"name": "一"}, twice)) == "levels.1.threshold.conditions.1.metric"


def test_bought_products_needs_its_products_and_only_it_takes_them() -> None:
    assert (
        _refused(_levels({"name": "一"}, _by("bought_products", 1, name="二")))
        == "levels.1.threshold.conditions.0.product_ids"
    )
    wrong = {
        "name": "二",
        "threshold": {"conditions": [{"metric": "paid_orders", "at_least": 1, "product_ids": ["p1"]}]},
    }
    assert _refused(_levels({"name": "一"}, wrong)) == "levels.1.threshold.conditions.0.product_ids"


def test_two_levels_of_one_name_are_refused() -> None:
    assert _refused(_levels({"name": "一"}, _by("paid_orders", 1, name="一"))) == "levels.1.name"


def test_unknown_fields_metrics_and_rates_out_of_range_are_refused() -> None:
    for bad, where in (
        ({"name": "一", "colour": "red"}, ("levels", 0, "colour")),
        ({"name": "一", "commission_rate_bp": 10_001}, ("levels", 0, "commission_rate_bp")),
        (_by("shoe_size", 1, name="一"), ("levels", 0, "threshold", "conditions", 0, "metric")),
        ({"name": "一", "period_days": 0}, ("levels", 0, "period_days")),
    ):
        with pytest.raises(ValidationError) as refused:
            _levels(bad)
        assert refused.value.errors()[0]["loc"][: len(where)] == where


def test_every_level_has_a_default_background_image() -> None:
    assert default_background(1) != default_background(2)
    assert default_background(9) == default_background(1)


# --- windows -------------------------------------------------------------------------------------------


def test_a_10_day_period_evaluated_on_4_12_counts_4_3_to_4_12() -> None:
    window = window_on(APRIL_12, 10)
    assert (window.first, window.last) == (date(2026, 4, 3), APRIL_12)
    assert window.covers(date(2026, 4, 3)) and window.covers(APRIL_12)
    assert not window.covers(date(2026, 4, 2)) and not window.covers(date(2026, 4, 13))


def test_an_unlimited_period_counts_everything_up_to_the_day() -> None:
    history = _history({date(2020, 1, 1): {"paid_orders": 2}, date(2026, 4, 13): {"paid_orders": 5}})
    assert history.value("paid_orders", window_on(APRIL_12, None)) == 2  # the 4.13 figure is not yet
    assert history.value("paid_orders", window_on(date(2026, 4, 13), None)) == 7


LEVEL_2000 = _levels({"name": "一"}, _by("deal_fen", 200_000, name="二", period_days=10))
"""Seed §2.3.3 (2): a threshold of 2,000 yuan deal amount within a 10-day period."""


def test_a_deal_amount_of_2000_yuan_reached_inside_the_10_days_upgrades() -> None:
    history = _history({date(2026, 4, 3): {"deal_fen": 150_000}, date(2026, 4, 12): {"deal_fen": 50_000}})
    reached = upgrade(LEVEL_2000, 1, history, APRIL_12)
    assert reached is not None and reached.rank == 2
    assert (reached.window_from, reached.window_to) == (date(2026, 4, 3), APRIL_12)
    assert [(c.metric, c.value, c.at_least, c.met) for c in reached.conditions] == [
        (Metric.DEAL_FEN, 200_000, 200_000, True)
    ]


def test_a_deal_amount_of_2000_yuan_reached_on_4_2_does_not_upgrade_on_4_12() -> None:
    history = _history({date(2026, 4, 2): {"deal_fen": 200_000}})
    assert upgrade(LEVEL_2000, 1, history, APRIL_12) is None
    assert upgrade(LEVEL_2000, 1, history, date(2026, 4, 11)) is not None  # 4.2 … 4.11


# --- the upgrade ------------------------------------------------------------------------------------------


def test_several_levels_met_rise_to_the_highest() -> None:
    history = _history({APRIL_12: {"deal_fen": 600_000}})
    reached = upgrade(SEED_SCENARIO, 1, history, APRIL_12)
    assert reached is not None and reached.rank == 4


def test_a_manual_level_is_never_entered_automatically_and_is_skipped_to_the_next_met() -> None:
    history = _history({APRIL_12: {"invited_affiliates": 1}})
    reached = upgrade(SEED_SCENARIO, 1, history, APRIL_12)
    assert reached is not None and reached.rank == 6


def test_moved_by_hand_to_5_the_affiliate_rises_to_6_7_8_as_thresholds_are_met() -> None:
    rank = 5
    for invited, expected in ((0, 5), (1, 6), (2, 7), (3, 8)):
        history = _history({APRIL_12: {"invited_affiliates": invited, "deal_fen": 900_000}})
        reached = upgrade(SEED_SCENARIO, rank, history, APRIL_12)
        rank = reached.rank if reached else rank
        assert rank == expected


def test_a_level_below_the_current_one_is_never_a_target() -> None:
    history = _history({APRIL_12: {"deal_fen": 900_000}})
    assert upgrade(SEED_SCENARIO, 5, history, APRIL_12) is None


def test_any_needs_one_condition_all_needs_every_one() -> None:
    def level(match: str) -> LevelSettings:
        return _levels(
            {"name": "一"},
            {
                "name": "二",
                "threshold": {
                    "match": match,
                    "conditions": [
                        {"metric": "paid_orders", "at_least": 3},
                        {"metric": "recharge_fen", "at_least": 10_000},
                    ],
                },
            },
        )

    history = _history({APRIL_12: {"paid_orders": 3, "recharge_fen": 9_999}})
    assert upgrade(level("any"), 1, history, APRIL_12) is not None
    reached = upgrade(level("all"), 1, history, APRIL_12)
    assert reached is None
    history = _history({APRIL_12: {"paid_orders": 3, "recharge_fen": 10_000}})
    assert upgrade(level("all"), 1, history, APRIL_12) is not None


def test_buying_any_one_of_the_given_products_meets_the_condition() -> None:
    settings = _levels(
        {"name": "一"},
        {
            "name": "二",
            "threshold": {"conditions": [{"metric": "bought_products", "product_ids": ["p1", "p2"]}]},
        },
    )
    assert upgrade(settings, 1, _history({APRIL_12: {"bought:p3": 1}}), APRIL_12) is None
    assert upgrade(settings, 1, _history({APRIL_12: {"bought:p2": 1}}), APRIL_12) is not None


# --- properties -----------------------------------------------------------------------------------------

METRICS = ["paid_orders", "deal_fen", "invited_affiliates"]
days = st.dates(min_value=date(2026, 3, 1), max_value=date(2026, 4, 30))
histories = st.dictionaries(
    days, st.dictionaries(st.sampled_from(METRICS), st.integers(0, 300_000), max_size=3), max_size=20
)
level_specs = st.lists(
    st.tuples(
        st.booleans(),  # manual
        st.sampled_from(METRICS),
        st.integers(1, 300_000),
        st.one_of(st.none(), st.integers(1, 40)),
    ),
    min_size=1,
    max_size=6,
)


def _settings_of(specs: list[tuple[bool, str, int, int | None]]) -> LevelSettings:
    levels: list[dict[str, Any]] = [{"name": "L1"}]
    for n, (manual, metric, at_least, period) in enumerate(specs, start=2):
        if manual:
            levels.append({"name": f"L{n}", "strategy": "manual"})
        else:
            levels.append(_by(metric, at_least, name=f"L{n}", period_days=period))
    return _levels(*levels)


@given(histories, level_specs, st.integers(1, 7), days)
def test_the_upgrade_is_the_highest_automatic_level_above_met_in_its_own_window(
    raw: dict[date, dict[str, int]], specs: list[tuple[bool, str, int, int | None]], rank: int, day: date
) -> None:
    settings = _settings_of(specs)
    check(settings)
    history = _history(raw)
    expected = None
    for position, (manual, metric, at_least, period) in enumerate(specs, start=2):
        first = None if period is None else date.fromordinal(day.toordinal() - period + 1)
        counted = sum(
            amounts.get(metric, 0) for d, amounts in raw.items() if d <= day and (first is None or d >= first)
        )
        if position > rank and not manual and counted >= at_least:
            expected = position
    reached = upgrade(settings, rank, history, day)
    assert (reached.rank if reached else None) == expected


@given(histories, days, st.one_of(st.none(), st.integers(1, 60)))
def test_a_window_counts_exactly_its_days(
    raw: dict[date, dict[str, int]], day: date, period: int | None
) -> None:
    window = window_on(day, period)
    history = _history(raw)
    for metric in METRICS:
        naive = sum(amounts.get(metric, 0) for d, amounts in raw.items() if window.covers(d))
        assert history.value(metric, window) == naive
    assert isinstance(window, Window)
