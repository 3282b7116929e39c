"""One clock: time is passed into the domain, never read inside it (SPEC §4.1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

DEFAULT_TIME_ZONE = "Asia/Shanghai"


class Clock(Protocol):
    def now(self) -> datetime:
        """Return the current instant, timezone-aware."""
        ...


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock that says what it is told: for replays, scheduled events and tests."""

    instant: datetime

    def now(self) -> datetime:
        return self.instant

    def advance(self, delta: timedelta) -> None:
        self.instant = self.instant + delta


def to_utc(instant: datetime) -> datetime:
    """Normalise an aware datetime to UTC; naive datetimes are refused."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime: a time zone is required")
    return instant.astimezone(UTC)


def iso_utc(instant: datetime) -> str:
    """Render an instant as a sortable RFC 3339 string in UTC with millisecond precision."""
    return to_utc(instant).strftime("%Y-%m-%dT%H:%M:%S.") + f"{to_utc(instant).microsecond // 1000:03d}Z"


def parse_instant(text: str) -> datetime:
    """Parse an RFC 3339 string (``Z`` or an offset) into an aware UTC datetime."""
    return to_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def local_date(instant: datetime, time_zone: str = DEFAULT_TIME_ZONE) -> date:
    """The calendar day of ``instant`` in the merchant's time zone."""
    return to_utc(instant).astimezone(ZoneInfo(time_zone)).date()


def last_n_days(day: date, n: int) -> tuple[date, date]:
    """The inclusive window "last N days" ending on ``day``: D−N+1 … D.

    Seed 001: "last 10 days" on 4.12 is 4.3 … 4.12.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    return day - timedelta(days=n - 1), day
