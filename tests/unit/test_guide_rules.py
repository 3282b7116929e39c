"""Seed 000's reward rules: amounts, monthly limits cut to what is left, months in merchant time."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from incentives.guides.rules import Occurrence, RuleVersion, month_of, preview, reward_for

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _version(amount: int = 200, limit: int | None = 500) -> RuleVersion:
    return RuleVersion(1, amount, limit, T0)


def test_a_limit_of_500_with_rewards_of_200_pays_200_200_100_then_nothing() -> None:
    version, used, paid = _version(), 0, []
    for _ in range(4):
        amount = reward_for(version, used)
        used += amount
        paid.append(amount)
    assert paid == [200, 200, 100, 0]


def test_without_a_limit_every_occurrence_pays_the_amount() -> None:
    assert reward_for(_version(limit=None), 10_000_000) == 200


def test_months_are_calendar_months_in_the_merchant_time_zone() -> None:
    last_evening = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # 00:30 on 1 December in Shanghai
    assert month_of(last_evening, "Asia/Shanghai") == "2026-12"
    assert month_of(last_evening, "UTC") == "2026-11"


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.lists(st.integers(0, 1), max_size=40))
def test_a_month_never_pays_more_than_its_limit(amount: int, limit: int, occurrences: list[int]) -> None:
    version, used = RuleVersion(1, amount, limit, T0), 0
    for _ in occurrences:
        grant = reward_for(version, used)
        assert grant >= 0
        used += grant
    assert used <= limit


def test_the_preview_replays_this_months_occurrences_under_the_edit_from_zero() -> None:
    occurrences = [
        Occurrence("g1", T0 + timedelta(hours=n), f"e{n}", 200 if n < 2 else 100) for n in range(3)
    ]
    occurrences.append(Occurrence("g2", T0, "e9", 200))
    lines = preview(occurrences, RuleVersion(2, 300, 700, T0))
    assert [(x.guide_id, x.occurrences, x.produced_fen, x.would_produce_fen) for x in lines] == [
        ("g1", 3, 500, 700),
        ("g2", 1, 200, 300),
    ]


def test_an_occurrence_is_priced_by_the_version_in_force_when_it_happened() -> None:
    from incentives.guides.rules import version_at

    first = RuleVersion(1, 200, None, datetime(2026, 11, 1, tzinfo=UTC))
    second = RuleVersion(2, 300, None, datetime(2026, 11, 15, tzinfo=UTC))
    assert version_at([second, first], datetime(2026, 11, 14, 23, tzinfo=UTC)) == first
    assert version_at([first, second], datetime(2026, 11, 15, tzinfo=UTC)) == second
    assert version_at([first, second], datetime(2026, 10, 1, tzinfo=UTC)) == first  # older than the rule


def test_an_online_reward_below_the_minimum_waits_for_the_next_one() -> None:
    from incentives.guides.rules import WECOM_PAY_MINIMUM_FEN, online_payment

    assert WECOM_PAY_MINIMUM_FEN == 100
    assert online_payment(60, 0) == 0  # carried
    assert online_payment(60, 60) == 120  # paid together
    assert online_payment(100, 0) == 100


def test_a_scoped_preview_shows_only_its_occurrences_at_the_amounts_of_the_whole_month() -> None:
    """g1 worked in dept 2, then moved to dept 3: dept 3's view shows the third occurrence only,
    at what is left of g1's limit after the first two (300 + 300 of 700 → 100); g2 is not shown."""
    east, south = ("1", "2", "21"), ("1", "3", "31")
    occurrences = [
        Occurrence("g1", T0 + timedelta(hours=n), f"e{n}", 200, east if n < 2 else south) for n in range(3)
    ]
    occurrences.append(Occurrence("g2", T0, "e9", 200, east))
    version = RuleVersion(2, 300, 700, T0)
    south_lines = preview(occurrences, version, shown=lambda o: "3" in o.dept_path)
    assert [(x.guide_id, x.occurrences, x.produced_fen, x.would_produce_fen) for x in south_lines] == [
        ("g1", 1, 200, 100)
    ]
    east_lines = preview(occurrences, version, shown=lambda o: "2" in o.dept_path)
    assert [(x.guide_id, x.occurrences, x.would_produce_fen) for x in east_lines] == [
        ("g1", 2, 600),
        ("g2", 1, 300),
    ]
