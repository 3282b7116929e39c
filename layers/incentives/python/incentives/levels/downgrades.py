"""Downgrades (seed 001 §2.3.3 (3)–(4)), pure: the checks of an affiliate's level, retention, and
when the level must be checked again by time alone.

- ``threshold`` (等级门槛考核): the level's threshold is no longer met on its moving window → the
  highest level below whose threshold is met (else level 1); re-checked whenever figures move and
  whenever a counted figure leaves the window.
- ``cycle`` (周期循环考核, N-day periods only): N-day cycles from the day the level was obtained,
  each checked at its end over its own days (obtained 4.12, N = 10: 4.12–4.21, 4.22–5.1 …).
- ``single`` (单次考核): the X days from the day obtained, checked once at their end (obtained 4.12,
  X = 3: 4.12–4.14, checked as 4.15 begins).
- ``cycle`` / ``single`` go to the named level or the one just below (上一等级) and stack with the
  threshold check (叠加考核): when figures move (a later refund drops the figure below the
  threshold), the threshold is checked on the level's period as well. Time alone makes only the
  cycle / single checks (else a cycle would be the moving window checked on its last day).
- Retention (保级): a triggered downgrade is not made when all / any of the level's retention
  conditions hold over the X days up to the trigger's day (triggered 4.12, 3 days → 4.10–4.12).
  The trigger's day is the last day of the cycle or single window, or the day of the threshold check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from incentives.core.clock import last_n_days
from incentives.levels.assessment import (
    CheckKind,
    Quota,
    RetentionCheck,
    ThresholdCheck,
    check_condition,
    check_threshold,
    met_below,
    window_on,
)
from incentives.levels.metrics import BOUGHT_PREFIX, Metric, MetricHistory, Window
from incentives.levels.settings import DowngradeKind, Level, LevelSettings, Match, target_rank


@dataclass(frozen=True)
class Position:
    """What an assessment needs to know of the affiliate beside their figures."""

    rank: int
    obtained: date
    """The local day the current level was obtained (cycles and the single check count from it)."""
    checked: date | None = None
    """The local day of the last assessment (periodic checks due after it are still to make)."""
    quota: Quota = field(default_factory=dict)


@dataclass(frozen=True)
class Downgrade:
    """A triggered downgrade check: where it sends the affiliate, or kept by retention."""

    check: CheckKind
    threshold: ThresholdCheck
    to_rank: int
    trigger_day: date
    retention: RetentionCheck | None

    @property
    def kept(self) -> bool:
        return self.retention is not None and self.retention.met


def periodic_windows(level: Level, position: Position, day: date) -> list[tuple[CheckKind, Window]]:
    """The cycle or single-check windows that ended after the last assessment and by ``day`` (each
    is checked on the day after its last one), oldest first."""
    rule = level.downgrade
    start = position.obtained
    after = max(position.checked or start, start)
    found: list[tuple[CheckKind, Window]] = []
    if rule.kind is DowngradeKind.SINGLE and rule.after_days:
        due = start + timedelta(days=rule.after_days)
        if after < due <= day:
            found.append((CheckKind.SINGLE, Window(start, due - timedelta(days=1))))
    elif rule.kind is DowngradeKind.CYCLE and level.period_days:
        n = level.period_days
        first_cycle = max(0, (after - start).days // n - 1)
        cycle = first_cycle
        while True:
            due = start + timedelta(days=n * (cycle + 1))
            if due > day:
                break
            if due > after:
                found.append((CheckKind.CYCLE, Window(due - timedelta(days=n), due - timedelta(days=1))))
            cycle += 1
    return found


def retention_check(level: Level, figures: MetricHistory, trigger_day: date) -> RetentionCheck | None:
    """The level's retention over the X days up to ``trigger_day`` (None: 不保级). Figures without quota."""
    rule = level.retention
    if rule is None:
        return None
    first, last = last_n_days(trigger_day, rule.days)
    window = Window(first, last)
    checks = [check_condition(condition, figures, window) for condition in rule.conditions]
    met = (all if rule.match is Match.ALL else any)(check.met for check in checks)
    return RetentionCheck(
        days=rule.days, match=rule.match, window_from=first, window_to=last, conditions=checks, met=met
    )


def downgrade(
    settings: LevelSettings, position: Position, figures: MetricHistory, day: date, *, moved: bool = True
) -> Downgrade | None:
    """The first downgrade check of the affiliate's level that fails on ``day``: a periodic check
    that came due (cycle / single, oldest first), else the threshold check (with ``cycle`` /
    ``single``, stacked: only when figures ``moved``). None: none fails (or the level has no
    downgrade rule)."""
    rank = position.rank
    level = settings.level(rank)
    if level is None or rank == 1 or level.downgrade.kind is DowngradeKind.NONE:
        return None
    for kind, window in periodic_windows(level, position, day):
        check = check_threshold(rank, level, figures, day, position.quota, window)
        if check is not None and not check.met:
            trigger = window.last
            return Downgrade(
                kind, check, target_rank(settings, rank), trigger, retention_check(level, figures, trigger)
            )
    if level.downgrade.kind is not DowngradeKind.THRESHOLD and not moved:
        return None
    check = check_threshold(rank, level, figures, day, position.quota)
    if check is None or check.met:
        return None
    return Downgrade(
        CheckKind.THRESHOLD,
        check,
        met_below(settings, rank, figures, day, position.quota),
        day,
        retention_check(level, figures, day),
    )


def _threshold_keys(level: Level) -> set[str]:
    keys: set[str] = set()
    for condition in level.threshold.conditions if level.threshold else []:
        if condition.metric is Metric.BOUGHT_PRODUCTS:
            keys |= {f"{BOUGHT_PREFIX}{product}" for product in condition.product_ids or []}
        else:
            keys.add(condition.metric.value)
    return keys


def _unmet(position: Position, level: Level, figures: MetricHistory, day: date) -> bool:
    check = check_threshold(position.rank, level, figures, day, position.quota)
    return check is not None and not check.met


def next_check(
    settings: LevelSettings,
    position: Position,
    figures: MetricHistory,
    day: date,
    *,
    kept: bool = False,
    by_hand: bool = False,
) -> date | None:
    """The local day at whose start the affiliate's level must be checked again, by time alone:
    the end of the current cycle, the single check's day, for a ``threshold`` rule the day the
    oldest counted figure of the threshold leaves its window (figures decay with time) or, when
    its threshold is not met today (the level was a cycle's or single check's target), tomorrow;
    tomorrow too while a failing check is kept by retention (its window slides). A level set
    ``by_hand`` below its threshold holds until figures move (decision 89). None: nothing changes
    by time alone."""
    level = settings.level(position.rank)
    if level is None or position.rank == 1 or level.downgrade.kind is DowngradeKind.NONE:
        return None
    found: list[date] = []
    start, rule = position.obtained, level.downgrade
    if rule.kind is DowngradeKind.SINGLE and rule.after_days:
        due = start + timedelta(days=rule.after_days)
        if due > day:
            found.append(due)
    if rule.kind is DowngradeKind.CYCLE and level.period_days:
        n = level.period_days
        found.append(start + timedelta(days=n * ((day - start).days // n + 1)))
    below = rule.kind is DowngradeKind.THRESHOLD and not by_hand and _unmet(position, level, figures, day)
    if kept or below:  # a cycle's or single check's target below its threshold goes on down tomorrow
        found.append(day + timedelta(days=1))
    elif level.period_days and rule.kind is DowngradeKind.THRESHOLD:
        keys = _threshold_keys(level)
        window = window_on(day, level.period_days)
        counted = sorted(
            counted_day
            for counted_day, amounts in figures.days.items()
            if window.covers(counted_day) and any(amounts.get(key, 0) for key in keys)
        )
        if counted:
            found.append(counted[0] + timedelta(days=level.period_days))
    return min(found) if found else None


def first_day_needed(settings: LevelSettings, position: Position, day: date) -> date:
    """The earliest day whose figures an assessment on ``day`` may need: the periods of the levels
    (above for upgrades, below for the threshold downgrade's target, its own), the periodic windows
    to check and the retention days before each possible trigger."""
    firsts = [day + timedelta(days=1)]  # unlimited only: later-dated days, to take out of the totals
    firsts += [day - timedelta(days=level.period_days - 1) for level in settings.levels if level.period_days]
    current = settings.level(position.rank)
    if current is not None:
        windows = [window for _, window in periodic_windows(current, position, day)]
        firsts += [window.first for window in windows if window.first]
        if current.retention is not None:
            triggers = [day] + [window.last for window in windows]
            firsts.append(min(triggers) - timedelta(days=current.retention.days - 1))
    return min(firsts)


def start_of_day(day: date, time_zone: str) -> datetime:
    """The instant ``day`` begins in the merchant's time zone (when a check dated ``day`` is due)."""
    return datetime.combine(day, time(), tzinfo=ZoneInfo(time_zone)).astimezone(UTC)
