"""Guide incentive rules, pure (seed 000, SPEC §4.3).

A rule pays ``amount_fen`` per occurrence of its behavior, with an optional monthly limit
per guide: a reward that would pass the limit is cut to what is left; at zero none is
granted. Months are calendar months in the merchant's time zone. Editing a rule creates a
new version, effective at once; the limit usage restarts from zero under it. An occurrence is
priced by the version in force when it happened, whenever its event arrives; one from before
the rule's first version is priced by that first version (the terms the rule was created with).
Online, WeCom Pay refuses a single payment below 1 yuan: a smaller reward is carried into the
guide's next online payment instead of being paid alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

NEW_CUSTOMER = "new_customer"
COUPON_REDEMPTION = "coupon_redemption"
CUSTOM_PREFIX = "custom:"
TEMPLATES = {NEW_CUSTOMER: "新客奖励", COUPON_REDEMPTION: "核销奖励"}


class PaymentMethod(StrEnum):
    ONLINE = "online"
    """WeCom Pay to the guide's WeChat wallet."""
    OFFLINE = "offline"
    """Recorded only; the merchant pays outside."""


@dataclass(frozen=True)
class RuleVersion:
    version: int
    amount_fen: int
    monthly_limit_fen: int | None
    effective_from: datetime


WECOM_PAY_MINIMUM_FEN = 100
"""WeCom Pay's smallest single payment to a member (1 yuan; ``AMOUNT_LIMIT`` below it)."""


def version_at(versions: Sequence[RuleVersion], at: datetime) -> RuleVersion:
    """The version in force at ``at``: the latest one effective at or before it; an occurrence
    older than the rule takes its first version."""
    ordered = sorted(versions, key=lambda version: (version.effective_from, version.version))
    in_force = [version for version in ordered if version.effective_from <= at]
    return in_force[-1] if in_force else ordered[0]


def online_payment(reward_fen: int, carried_fen: int) -> int:
    """What an online reward pays now, with what smaller rewards carried: 0 means carry it too."""
    total = reward_fen + carried_fen
    return total if total >= WECOM_PAY_MINIMUM_FEN else 0


def month_of(instant: datetime, time_zone: str) -> str:
    """The calendar month (``2026-11``) of ``instant`` in the merchant's time zone."""
    return instant.astimezone(ZoneInfo(time_zone)).strftime("%Y-%m")


def reward_for(version: RuleVersion, used_this_month_fen: int) -> int:
    """The reward of one occurrence, cut to what the monthly limit leaves (never negative)."""
    if version.monthly_limit_fen is None:
        return version.amount_fen
    return max(0, min(version.amount_fen, version.monthly_limit_fen - used_this_month_fen))


def behavior_of_custom(name: str) -> str:
    return f"{CUSTOM_PREFIX}{name}"


@dataclass(frozen=True)
class Occurrence:
    guide_id: str
    at: datetime
    source: str
    granted_fen: int
    dept_path: tuple[str, ...] = ()
    """The guide's department path (root → outlet) when it happened: whose scope it is in."""


@dataclass(frozen=True)
class PreviewLine:
    guide_id: str
    occurrences: int
    produced_fen: int
    would_produce_fen: int


def preview(
    occurrences: Sequence[Occurrence],
    version: RuleVersion,
    shown: Callable[[Occurrence], bool] = lambda _: True,
) -> list[PreviewLine]:
    """What this month's occurrences produced, and what ``version`` would have produced from zero.

    Every occurrence counts against its guide's limit; only those ``shown`` (the caller's scope)
    make up the lines, so a scoped view shows its own occurrences at the amounts the whole month
    gives them.
    """
    used: dict[str, int] = {}
    lines: dict[str, PreviewLine] = {}
    for occurrence in sorted(occurrences, key=lambda o: (o.at, o.source)):
        amount = reward_for(version, used.get(occurrence.guide_id, 0))
        used[occurrence.guide_id] = used.get(occurrence.guide_id, 0) + amount
        if not shown(occurrence):
            continue
        line = lines.get(occurrence.guide_id, PreviewLine(occurrence.guide_id, 0, 0, 0))
        lines[occurrence.guide_id] = PreviewLine(
            occurrence.guide_id,
            line.occurrences + 1,
            line.produced_fen + occurrence.granted_fen,
            line.would_produce_fen + amount,
        )
    return sorted(lines.values(), key=lambda line: line.guide_id)


def totals(lines: Iterable[PreviewLine]) -> tuple[int, int]:
    produced = would = 0
    for line in lines:
        produced += line.produced_fen
        would += line.would_produce_fen
    return produced, would
