"""What the guide incentive tests compare the product with, computed apart from what they check:
every stored reward of a tenant or a guide, and a guide's earnings summed from their records."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from incentives.core.clock import parse_instant
from incentives.guides.ports import GuideRepository, Record, RewardQuery
from incentives.guides.records import EARNED, Earnings, RewardRecord


def stored_rewards(
    repo: GuideRepository, corp_id: str, guide_id: str | None = None, page: int = 500
) -> list[Record]:
    """Every reward document newest first (the tenant's, or one guide's), read ``page`` at a time."""
    found: list[Record] = []
    cursor: str | None = None
    while True:
        read = repo.rewards_page(corp_id, guide_id, RewardQuery(page, cursor))
        found += read.rewards
        cursor = read.cursor
        if cursor is None:
            return found


def earnings(mine: Iterable[RewardRecord], now: datetime, time_zone: str) -> Earnings:
    """A guide's earnings summed from their records: each paid (or recorded) reward with what was
    carried into it, this month's those created in ``now``'s calendar month in ``time_zone``."""
    zone = ZoneInfo(time_zone)

    def month(instant: datetime) -> tuple[int, int]:
        local = instant.astimezone(zone)
        return local.year, local.month

    earned = [r for r in mine if r.status in EARNED]
    this_month = [r for r in earned if month(parse_instant(r.created_at)) == month(now)]
    return Earnings(
        this_month_fen=sum(r.amount_fen + r.carried_in_fen for r in this_month),
        total_fen=sum(r.amount_fen + r.carried_in_fen for r in earned),
    )
