"""SPEC §4.1: integer fen, basis points, half-up rounding, merchant-time calendar windows."""

from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from incentives.core.clock import iso_utc, last_n_days, local_date, parse_instant
from incentives.core.money import apply_rate, pro_rata


def test_a_percentage_rounds_half_up_to_the_fen() -> None:
    assert apply_rate(10_000, 500) == 500  # 5 % of 100 yuan
    assert apply_rate(1, 5_000) == 1  # 0.5 fen rounds up
    assert apply_rate(3, 5_000) == 2  # 1.5 fen rounds up
    assert apply_rate(1, 4_999) == 0


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10_000))
def test_a_rate_is_within_half_a_fen_of_the_exact_value(amount: int, rate: int) -> None:
    exact = amount * rate / 10_000
    assert abs(apply_rate(amount, rate) - exact) <= 0.5


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10_000))
def test_a_negative_amount_mirrors_its_positive(amount: int, rate: int) -> None:
    assert apply_rate(-amount, rate) == -apply_rate(amount, rate)


def test_pro_rata_shares_follow_the_part() -> None:
    assert pro_rata(500, 2_000, 10_000) == 100
    assert pro_rata(500, 10_000, 10_000) == 500
    assert pro_rata(500, 0, 10_000) == 0
    assert pro_rata(500, 1, 0) == 0


def test_last_n_days_matches_the_seed_example() -> None:
    """Seed 001: "last 10 days" on April 12 is April 3 … April 12 inclusive."""
    assert last_n_days(date(2026, 4, 12), 10) == (date(2026, 4, 3), date(2026, 4, 12))


def test_calendar_days_are_in_the_merchant_time_zone() -> None:
    late_evening_utc = datetime(2026, 11, 23, 17, 30, tzinfo=UTC)  # 01:30 on the 24th in Shanghai
    assert local_date(late_evening_utc) == date(2026, 11, 24)
    assert local_date(late_evening_utc, "UTC") == date(2026, 11, 23)


def test_instants_round_trip_through_their_sortable_form() -> None:
    instant = parse_instant("2026-11-24T10:15:00.123+08:00")
    assert iso_utc(instant) == "2026-11-24T02:15:00.123Z"
    assert parse_instant(iso_utc(instant)) == instant
