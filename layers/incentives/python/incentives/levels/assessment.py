"""Assessing an affiliate's level (seed 001 §2.3.3), pure: windows, thresholds, the upgrade
decision, and the explanation every level change carries.

- A level's period of N days evaluated on day D counts D−N+1 … D in the merchant's time zone
  (seed: 10 days on 4.12 → 4.3 … 4.12); an unlimited period counts everything up to D.
- Upgrade: the affiliate rises to the highest ``auto`` level above theirs whose threshold is met
  within that level's period (several met → the highest); never into a ``manual`` level.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from incentives.core.clock import last_n_days
from incentives.levels.metrics import Metric, MetricHistory, Window
from incentives.levels.settings import Condition, Level, LevelSettings, Match, Strategy


def window_on(day: date, period_days: int | None) -> Window:
    """The days a period counts when evaluated on ``day`` (None: unlimited)."""
    if period_days is None:
        return Window(None, day)
    first, last = last_n_days(day, period_days)
    return Window(first, last)


class ConditionCheck(BaseModel):
    metric: Metric
    at_least: int
    value: int = Field(description="The affiliate's figure within the window")
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


def check_condition(condition: Condition, figures: MetricHistory, window: Window) -> ConditionCheck:
    if condition.metric is Metric.BOUGHT_PRODUCTS:
        value = figures.bought(condition.product_ids or [], window)
    else:
        value = figures.value(condition.metric.value, window)
    return ConditionCheck(
        metric=condition.metric,
        at_least=condition.at_least,
        value=value,
        remaining=max(0, condition.at_least - value),
        met=value >= condition.at_least,
        product_ids=condition.product_ids,
    )


def check_threshold(rank: int, level: Level, figures: MetricHistory, day: date) -> ThresholdCheck | None:
    """``level``'s threshold on ``day`` (None when it has none: a manual or the default level)."""
    if level.threshold is None:
        return None
    window = window_on(day, level.period_days)
    checks = [check_condition(condition, figures, window) for condition in level.threshold.conditions]
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
    settings: LevelSettings, rank: int, figures: MetricHistory, day: date
) -> list[ThresholdCheck]:
    """The automatic levels above ``rank``, each threshold against the figures (what remains)."""
    found = []
    for position, level in enumerate(settings.levels[rank:], start=rank + 1):
        if level.strategy is Strategy.AUTO:
            check = check_threshold(position, level, figures, day)
            if check is not None:
                found.append(check)
    return found


def upgrade(settings: LevelSettings, rank: int, figures: MetricHistory, day: date) -> ThresholdCheck | None:
    """The level the affiliate rises to from ``rank`` on ``day``, with its met threshold, or None.

    The highest automatic level above ``rank`` whose threshold is met; manual levels are never
    entered this way (they have no threshold), lower levels never (no downgrade here).
    """
    met = [check for check in next_levels(settings, rank, figures, day) if check.met]
    return max(met, key=lambda check: check.rank) if met else None


# --- why ----------------------------------------------------------------------------------------


class ChangeKind(StrEnum):
    INITIAL = "initial"
    """Joined the program: the default level."""
    UPGRADE = "upgrade"
    """Met a higher automatic level's threshold."""
    MANUAL = "manual"
    """The merchant set the level by hand, with a reason."""


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
