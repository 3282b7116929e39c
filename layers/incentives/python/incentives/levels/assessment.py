"""Assessing an affiliate's level (seed 001 §2.3.3), pure: windows, thresholds, the upgrade and
downgrade decisions, retention, quotas, the next time-driven check, and the explanation every
level change carries.

- A level's period of N days evaluated on day D counts D−N+1 … D in the merchant's time zone
  (seed: 10 days on 4.12 → 4.3 … 4.12); an unlimited period counts everything up to D.
- Upgrade: the affiliate rises to the highest ``auto`` level above theirs whose threshold is met
  within that level's period (several met → the highest); never into a ``manual`` level.
- Downgrade (per level): ``threshold`` — the threshold is no longer met on the moving window →
  the highest level below whose threshold is met (else level 1); ``cycle`` — N-day cycles from the
  day the level was obtained, each checked at its end (obtained 4.12, N = 10: 4.12–4.21, 4.22–5.1);
  ``single`` — the X days from the day obtained, checked once at their end (X = 3: 4.12–4.14).
  ``cycle`` / ``single`` go to the named level or the one just below, and stack with the
  threshold check.
- Retention: a triggered downgrade is not made when the level's retention conditions hold over
  the X days up to the trigger's day (triggered 4.12, 3 days → 4.10–4.12).
- Quota (配额): per metric, an offset added to the affiliate's figure in every threshold check,
  created when the merchant changes the rules and chooses to keep levels.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from incentives.core.clock import last_n_days
from incentives.levels.metrics import Metric, MetricHistory, Window
from incentives.levels.settings import (
    Condition,
    Level,
    LevelSettings,
    Match,
    Strategy,
)

Quota = Mapping[str, int]
"""Metric → the offset added to the affiliate's figure (配额; positive or negative)."""
NO_QUOTA: Quota = {}


def window_on(day: date, period_days: int | None) -> Window:
    """The days a period counts when evaluated on ``day`` (None: unlimited)."""
    if period_days is None:
        return Window(None, day)
    first, last = last_n_days(day, period_days)
    return Window(first, last)


class ConditionCheck(BaseModel):
    metric: Metric
    at_least: int
    value: int = Field(description="The affiliate's figure within the window, quota included")
    quota: int = Field(default=0, description="The quota offset included in the value (配额)")
    remaining: int = Field(description="What is still missing (0 when met)")
    met: bool
    product_ids: list[str] | None = None


class ThresholdCheck(BaseModel):
    """A level's threshold against the affiliate's figures, on one day."""

    rank: int
    name: str
    match: Match
    period_days: int | None = Field(description="None: unlimited")
    window_from: date | None = Field(description="First day counted (None: unlimited)")
    window_to: date
    conditions: list[ConditionCheck]
    met: bool


def check_condition(
    condition: Condition, figures: MetricHistory, window: Window, quota: Quota = NO_QUOTA
) -> ConditionCheck:
    if condition.metric is Metric.BOUGHT_PRODUCTS:
        value = figures.bought(condition.product_ids or [], window)
    else:
        value = figures.value(condition.metric.value, window)
    offset = quota.get(condition.metric.value, 0)
    value += offset
    return ConditionCheck(
        metric=condition.metric,
        at_least=condition.at_least,
        value=value,
        quota=offset,
        remaining=max(0, condition.at_least - value),
        met=value >= condition.at_least,
        product_ids=condition.product_ids,
    )


def check_threshold(
    rank: int,
    level: Level,
    figures: MetricHistory,
    day: date,
    quota: Quota = NO_QUOTA,
    window: Window | None = None,
) -> ThresholdCheck | None:
    """``level``'s threshold on ``day`` (None when it has none: a manual or the default level),
    over its period's window or the given one (a cycle, the single check's days)."""
    if level.threshold is None:
        return None
    window = window or window_on(day, level.period_days)
    checks = [check_condition(condition, figures, window, quota) for condition in level.threshold.conditions]
    met = (all if level.threshold.match is Match.ALL else any)(check.met for check in checks)
    return ThresholdCheck(
        rank=rank,
        name=level.name,
        match=level.threshold.match,
        period_days=level.period_days,
        window_from=window.first,
        window_to=window.last,
        conditions=checks,
        met=met,
    )


def next_levels(
    settings: LevelSettings, rank: int, figures: MetricHistory, day: date, quota: Quota = NO_QUOTA
) -> list[ThresholdCheck]:
    """The automatic levels above ``rank``, each threshold against the figures (what remains)."""
    found = []
    for position, level in enumerate(settings.levels[rank:], start=rank + 1):
        if level.strategy is Strategy.AUTO:
            check = check_threshold(position, level, figures, day, quota)
            if check is not None:
                found.append(check)
    return found


def upgrade(
    settings: LevelSettings, rank: int, figures: MetricHistory, day: date, quota: Quota = NO_QUOTA
) -> ThresholdCheck | None:
    """The level the affiliate rises to from ``rank`` on ``day``, with its met threshold, or None.

    The highest automatic level above ``rank`` whose threshold is met; manual levels are never
    entered this way (they have no threshold), lower levels never (downgrades are their own rules).
    """
    met = [check for check in next_levels(settings, rank, figures, day, quota) if check.met]
    return max(met, key=lambda check: check.rank) if met else None


def met_below(
    settings: LevelSettings, rank: int, figures: MetricHistory, day: date, quota: Quota = NO_QUOTA
) -> int:
    """符合该微客等级门槛的等级: the highest automatic level below ``rank`` whose threshold is met,
    else level 1 (the default level, which has no threshold)."""
    for position in range(rank - 1, 1, -1):
        level = settings.levels[position - 1]
        if level.strategy is Strategy.AUTO:
            check = check_threshold(position, level, figures, day, quota)
            if check is not None and check.met:
                return position
    return 1


def recalculated_rank(
    settings: LevelSettings, rank: int, figures: MetricHistory, day: date, quota: Quota = NO_QUOTA
) -> int:
    """The level the rules give from scratch (a rule change with ``recalculate``, a deleted level):
    the highest automatic level met, else level 1. An affiliate on a manual level (put there by the
    merchant) stays there unless an automatic level above is met."""
    current = settings.level(rank)
    if current is not None and current.strategy is Strategy.MANUAL and rank > 1:
        found = upgrade(settings, rank, figures, day, quota)
        return found.rank if found else rank
    found = upgrade(settings, 1, figures, day, quota)
    return found.rank if found else 1


class CheckKind(StrEnum):
    THRESHOLD = "threshold"
    """The threshold on the level's moving window (等级门槛考核, also stacked with the others)."""
    CYCLE = "cycle"
    SINGLE = "single"


class RetentionCheck(BaseModel):
    """保级: the retention conditions over the X days up to the trigger's day."""

    days: int
    match: Match
    window_from: date
    window_to: date
    conditions: list[ConditionCheck]
    met: bool = Field(description="True: the level was kept")


# --- why ----------------------------------------------------------------------------------------


class ChangeKind(StrEnum):
    INITIAL = "initial"
    """Joined the program: the default level."""
    UPGRADE = "upgrade"
    """Met a higher automatic level's threshold."""
    MANUAL = "manual"
    """The merchant set the level by hand, with a reason."""
    DOWNGRADE = "downgrade"
    """A downgrade check failed (threshold, cycle or single) and retention did not keep the level."""
    RECALCULATED = "recalculated"
    """The rules changed (or a level was deleted) and the merchant chose to re-level everyone."""
    QUOTA = "quota"
    """The rules changed and the merchant kept levels: the quota offsets that make the figures fit."""


class Trigger(BaseModel):
    """What moved the affiliate's figures before the assessment (the last such fact)."""

    source: str = Field(
        description="order:<id>, binding:<customer>, joined:<affiliate>, member:<customer>, …"
    )
    event_id: str | None = None
    note: str | None = Field(default=None, description="What happened when no event did (a window ended)")
    moved: dict[str, int] = Field(default_factory=dict, description="Metric → how much it moved")
    at: datetime


class LevelChange(BaseModel):
    """Why an affiliate's level changed: kind, rule version, figures against the threshold, window,
    and what triggered it (or who, with which reason)."""

    kind: ChangeKind
    version: int = Field(description="The affiliate's level version after this change (1, 2, …)")
    from_rank: int | None
    from_name: str | None
    to_rank: int
    to_name: str | None
    at: datetime
    rule_version: int = Field(description="Version of the level settings applied (0: none set yet)")
    threshold: ThresholdCheck | None = Field(
        default=None, description="Upgrade: the threshold met, each figure against it, the window"
    )
    trigger: Trigger | None = None
    reason: str | None = None
    actor: str | None = None
    check: CheckKind | None = Field(
        default=None, description="Downgrade: the check that failed (its window is the threshold's)"
    )
    retention: RetentionCheck | None = Field(
        default=None, description="Downgrade: the retention conditions and that they did not hold"
    )
    quota: dict[str, int] = Field(
        default_factory=dict, description="Quota offsets in force after the change (配额), by metric"
    )
