"""One affiliate's assessment at one instant, pure (:func:`decide`): follow a rule change not yet
followed (``recalculate`` / ``keep``, a deleted level), else raise when figures moved, else make the
downgrade checks due; and when the next time-driven check is due. ``levels.service.assess`` reads
what it needs and writes what it decides."""

from __future__ import annotations

from datetime import date, datetime

from incentives.core.clock import local_date
from incentives.levels.assessment import (
    ChangeKind,
    LevelChange,
    Trigger,
    check_threshold,
    recalculated_rank,
    upgrade,
)
from incentives.levels.downgrades import Position, downgrade, next_check, start_of_day
from incentives.levels.metrics import MetricHistory
from incentives.levels.ports import Standing, StoredLevels
from incentives.levels.quotas import keep_quota
from incentives.levels.settings import ChangeMode, LevelSettings


def position_of(standing: Standing, rank: int, now: datetime, time_zone: str) -> Position:
    """What the assessment knows of the affiliate beside their figures (local days)."""
    return Position(
        rank=rank,
        obtained=local_date(standing.since or now, time_zone),
        checked=local_date(standing.checked_at, time_zone) if standing.checked_at else None,
        quota=standing.quota,
    )


def followed_rank(stored: StoredLevels, standing: Standing) -> tuple[int, ChangeMode | None]:
    """The standing's rank in the current numbering and how to follow the rule changes it has not
    followed yet (None: none). A deleted level re-levels its members and renumbers those above it
    (§2.3.5: 删除当前等级后,默认所有微客会重新进行定级)."""
    rank, mode = standing.rank, None
    for change in stored.pending(standing.rule_version):
        mode = change.mode
        if change.deleted_rank is not None:
            mode = ChangeMode.RECALCULATE
            if rank >= change.deleted_rank:
                rank -= 1
    return max(1, min(rank, len(stored.settings.levels))), mode


def _change(
    kind: ChangeKind, standing: Standing, stored: StoredLevels, to_rank: int, now: datetime, **why: object
) -> LevelChange:
    settings = stored.settings
    before = stored.settings.level(standing.rank) if not stored.pending(standing.rule_version) else None
    target = settings.level(to_rank)
    return LevelChange.model_validate(
        {
            "kind": kind,
            "version": standing.version + 1,
            "from_rank": standing.rank,
            "from_name": before.name if before else None,
            "to_rank": to_rank,
            "to_name": target.name if target else None,
            "at": now,
            "rule_version": stored.version,
            **why,
        }
    )


def kept_rank(
    stored: StoredLevels,
    standing: Standing,
    before: LevelSettings,
    rank: int,
    figures: MetricHistory,
    day: date,
) -> int:
    """The level a ``keep`` change keeps: the affiliate's level under the rules in force before it
    (``before``), as their assessment would have set it then — recalculated when an earlier change
    they had not followed yet recalculates, else raised by figures that moved since their last
    assessment (not by the re-levelling's own mark: a level lost to a check stays lost)."""
    pending = stored.pending(standing.rule_version)[:-1]
    if any(change.mode is ChangeMode.RECALCULATE or change.deleted_rank for change in pending):
        return recalculated_rank(before, rank, figures, day)
    trigger, checked = standing.trigger, standing.checked_at
    moved = trigger is not None and (checked is None or trigger.at >= checked)  # not by the marking
    raised = (
        upgrade(before, rank, figures, day, standing.quota) if moved and standing.owes_assessment else None
    )
    return raised.rank if raised else rank


def decide(
    stored: StoredLevels,
    standing: Standing,
    figures: MetricHistory,
    now: datetime,
    time_zone: str,
    before: LevelSettings | None = None,
) -> tuple[LevelChange | None, dict[str, int], datetime | None]:
    """One affiliate's assessment at ``now``, pure: the change (if any), the quota after it, and
    when the next time-driven check is due (None: none).

    A rule change not followed yet comes first (``recalculate``: the level the new rules give;
    ``keep``: the level stays — the one the rules in force before it give, ``before``, when they
    were kept — and the quota makes the figures fit). Otherwise figures that moved may
    raise the affiliate; failing that, the downgrade checks due are made (a time-driven check only
    lowers: a level lost to a check is regained by new figures, not by the same ones)."""
    settings, day = stored.settings, local_date(now, time_zone)
    rank, mode = followed_rank(stored, standing)
    position = position_of(standing, rank, now, time_zone)
    quota = dict(standing.quota)
    change: LevelChange | None = None
    kept = False
    if mode is ChangeMode.KEEP:
        if before is not None:
            rank = kept_rank(stored, standing, before, rank, figures, day)
            position = Position(
                rank, day if rank != standing.rank else position.obtained, position.checked, quota
            )
        quota = keep_quota(settings, rank, figures, day)
        if quota != standing.quota or rank != standing.rank:
            level = settings.levels[rank - 1]
            change = _change(
                ChangeKind.QUOTA,
                standing,
                stored,
                rank,
                now,
                threshold=check_threshold(rank, level, figures, day, quota),
                quota=quota,
            )
    elif mode is ChangeMode.RECALCULATE:
        quota = {}
        target = recalculated_rank(settings, rank, figures, day)
        if target != standing.rank or rank != standing.rank:  # moved, or renumbered by a deletion
            level = settings.levels[target - 1]
            change = _change(
                ChangeKind.RECALCULATED,
                standing,
                stored,
                target,
                now,
                threshold=check_threshold(target, level, figures, day),
            )
    else:
        raised = upgrade(settings, rank, figures, day, quota) if standing.owes_assessment else None
        if raised is not None:
            change = _change(
                ChangeKind.UPGRADE,
                standing,
                stored,
                raised.rank,
                now,
                threshold=raised,
                trigger=standing.trigger,
                quota=quota,
            )
        else:
            found = downgrade(settings, position, figures, day, moved=standing.owes_assessment)
            kept = found is not None and found.kept
            if found is not None and not found.kept:
                change = _change(
                    ChangeKind.DOWNGRADE,
                    standing,
                    stored,
                    found.to_rank,
                    now,
                    threshold=found.threshold,
                    check=found.check,
                    retention=found.retention,
                    trigger=standing.trigger
                    if standing.owes_assessment
                    else Trigger(source="time", note=f"the {found.check.value} check came due", at=now),
                    quota=quota,
                )
    moved = change is not None and change.to_rank != standing.rank
    after = Position(
        rank=change.to_rank if change else rank,
        obtained=day if moved else position.obtained,
        checked=day,
        quota=quota,
    )
    due = next_check(settings, after, figures, day, kept=kept)
    return change, quota, start_of_day(due, time_zone) if due else None
