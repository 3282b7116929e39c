"""Changing the level rules (seed 001 §2.3.3 (5), §2.3.5): saving the levels as the next rule
version, with how affiliates follow a change of the rules (``recalculate`` / ``keep``), and deleting
a level. Affiliates follow through their next assessment: the call writes one re-levelling job,
which the next assessment run goes through a page of affiliates at a time, marking each due
(:func:`relevel_page`)."""

from __future__ import annotations

from datetime import datetime

from incentives.core.errors import Conflict, InvalidInput, NotFound
from incentives.levels.ports import LevelRepository, Relevel, RelevelPage, RelevelStep, StoredLevels
from incentives.levels.settings import ChangeMode, LevelSettings, check, without_level

RELEVEL_PAGE = 500
"""Affiliates a re-levelling job marks per page (one work message each; one query of the tenant's
standings, their standings read in batches of 100, marked in transactions of 100)."""


def rules_changed(before: LevelSettings, after: LevelSettings) -> bool:
    """Whether what decides levels changed (not only names, rates, images or descriptions)."""

    def rules(settings: LevelSettings) -> list[tuple[object, ...]]:
        return [
            (level.strategy, level.period_days, level.threshold, level.downgrade, level.retention)
            for level in settings.levels
        ]

    return rules(before) != rules(after)


def save_settings(
    repo: LevelRepository,
    corp_id: str,
    settings: LevelSettings,
    now: datetime,
    on_change: ChangeMode = ChangeMode.RECALCULATE,
) -> StoredLevels:
    """Store the levels as the next rule version. When the rules change (not only names, rates or
    images), every affiliate follows by ``on_change`` — ``recalculate`` or ``keep`` (§2.3.3 (5)) —
    at an assessment the next run's re-levelling job marks due for each. Removing levels here is
    refused while they have members: deleting a level (:func:`delete_level`) re-levels them."""
    check(settings)
    current = repo.settings(corp_id)
    for rank, count in repo.members(corp_id).items():
        if rank > len(settings.levels) and count > 0:
            raise Conflict(
                f"level {rank} has {count} affiliates: delete it to re-level them", field=f"levels.{rank - 1}"
            )
    version = (current.version if current else 0) + 1
    relevel = None
    if current is not None and rules_changed(current.settings, settings):
        relevel = Relevel(version, on_change)
    repo.save_settings(corp_id, settings, version - 1, now, relevel)
    return StoredLevels(settings, version, now)


def delete_level(repo: LevelRepository, corp_id: str, rank: int, now: datetime) -> StoredLevels:
    """Delete level ``rank`` (§2.3.5): the levels above move down one rank, and every affiliate is
    re-levelled under the remaining levels (its members included), through the next run."""
    current = repo.settings(corp_id)
    if current is None:
        raise NotFound("the merchant has set no levels", field="levels")
    settings = without_level(current.settings, rank)
    check(settings)
    version = current.version + 1
    repo.save_settings(
        corp_id, settings, current.version, now, Relevel(version, ChangeMode.RECALCULATE, rank)
    )
    return StoredLevels(settings, version, now)


def relevel_page(
    repo: LevelRepository, step: RelevelStep | None, corp_id: str, now: datetime, page: int
) -> RelevelPage | None:
    """One page of a tenant's re-levelling job (a rule change or a deleted level): the next
    ``page`` affiliates marked owed an assessment at ``now``, and where the job goes on (None: it
    was done already, or another page moved it on). Each mark is kept if owed already, so a page
    done twice writes nothing more; the assessment job follows each marked affiliate."""
    if page < 1:
        raise InvalidInput(f"a page holds at least 1 affiliate, not {page}", field="page")
    return repo.relevel_page(step, corp_id, now, page)


def relevel_all(repo: LevelRepository, now: datetime, page: int = RELEVEL_PAGE) -> int:
    """Every re-levelling job due, page after page, here and now; returns the affiliates marked."""
    marked = 0
    for corp_id in repo.due_relevels(now):
        done = relevel_page(repo, None, corp_id, now, page)
        while done is not None:
            marked += len(done.marked)
            done = relevel_page(repo, done.next, corp_id, now, page) if done.next else None
    return marked
