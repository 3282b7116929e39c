"""★ The effect of a level rule change, a ``recalculate`` / ``keep`` choice or a deletion, before
the merchant applies it: affiliates per level before and after, who moves up or down, the quotas
``keep`` would create, and who the new rules would downgrade within 7 and 30 days if nothing more
happened. Nothing is written: every affiliate is assessed as :func:`levels.service.decide` would
at the next run, on the figures they have now.

An answer covers one page of the tenant's affiliates (``page_size``, 200 by default) and gives the
cursor of the next (``next_cursor``), so a tenant of any size is previewed in bounded calls; the
tenant's members per level now come with every page, from the maintained counters.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from incentives.core.clock import local_date
from incentives.core.errors import InvalidInput, InvalidPart
from incentives.levels.assessment import CheckKind
from incentives.levels.decision import decide, followed_rank, position_of
from incentives.levels.downgrades import Position, downgrade
from incentives.levels.metrics import MetricHistory
from incentives.levels.ports import LevelRepository, Relevel, Standing, StoredLevels
from incentives.levels.rule_changes import rules_changed
from incentives.levels.service import figures_of
from incentives.levels.settings import MAX_LEVELS, ChangeMode, LevelSettings, check, without_level
from incentives.levels.views import require_levels

HORIZONS = (7, 30)
PAGE = 200
"""Affiliates per answer by default: a few reads each, well within an API call's time."""
MAX_PAGE = 500


class PreviewRequest(BaseModel):
    """What the merchant is about to do: new levels with how affiliates follow them, or a deletion."""

    model_config = ConfigDict(extra="forbid")

    levels: LevelSettings | None = Field(default=None, description="The levels as they would be saved")
    on_change: ChangeMode = Field(
        default=ChangeMode.RECALCULATE, description="recalculate (re-level everyone) or keep (quotas)"
    )
    delete_rank: Annotated[int, Field(ge=2, le=MAX_LEVELS)] | None = Field(
        default=None, description="The level to delete instead (everyone is re-levelled)"
    )
    cursor: Annotated[str, Field(min_length=1, max_length=2000)] | None = Field(
        default=None, description="The previous answer's next_cursor: the next page of affiliates"
    )
    page_size: Annotated[int, Field(ge=1, le=MAX_PAGE)] = Field(
        default=PAGE, description="Affiliates previewed per answer"
    )

    @model_validator(mode="after")
    def _one_change(self) -> Self:
        if (self.levels is None) == (self.delete_rank is None):
            raise InvalidPart("give either levels or delete_rank", "delete_rank")
        return self


class LevelCount(BaseModel):
    rank: int
    name: str
    affiliates: int


class Move(BaseModel):
    affiliate_id: str
    from_rank: int
    to_rank: int
    direction: Literal["up", "down"]


class QuotaRow(BaseModel):
    affiliate_id: str
    rank: int
    quota: dict[str, int] = Field(description="Metric → the offset keep would create (配额)")


class SoonDowngraded(BaseModel):
    affiliate_id: str
    rank: int = Field(description="Their level after the change")
    to_rank: int
    on: date = Field(description="The day the check would downgrade them (merchant time)")
    check: CheckKind


class LevelPreview(BaseModel):
    """The change's effect on one page of affiliates (every list and count below is theirs)."""

    rule_version: int = Field(description="The version the change would follow (the current one)")
    relevels: bool = Field(description="False: only names, rates or images change; nobody moves")
    members: list[LevelCount] = Field(description="The whole tenant's affiliates per level now")
    affiliates: int = Field(description="Affiliates in this page")
    before: list[LevelCount]
    after: list[LevelCount]
    moves: list[Move]
    quotas: list[QuotaRow]
    downgraded_within_7_days: list[SoonDowngraded]
    downgraded_within_30_days: list[SoonDowngraded]
    next_cursor: str | None = Field(description="Send it back as cursor for the next page (null: none)")


def proposal(stored: StoredLevels, request: PreviewRequest, now: datetime) -> StoredLevels:
    """The stored levels as they would be once the change is applied (the next rule version)."""
    version = stored.version + 1
    if request.delete_rank is not None:
        settings = without_level(stored.settings, request.delete_rank)
        relevel: Relevel | None = Relevel(version, ChangeMode.RECALCULATE, deleted_rank=request.delete_rank)
    else:
        assert request.levels is not None
        settings = request.levels
        changed = rules_changed(stored.settings, settings)
        relevel = Relevel(version, request.on_change) if changed else None
    check(settings)
    return StoredLevels(settings, version, now, (*stored.relevels, *([relevel] if relevel else [])))


def _soonest_downgrade(
    proposed: StoredLevels, position: Position, figures: MetricHistory, day: date, horizon: int
) -> tuple[date, int, CheckKind] | None:
    """The first day within ``horizon`` days on which the level's checks would downgrade, with no
    new figures (figures dated later are none; windows slide, cycles and single checks come due)."""
    for ahead in range(1, horizon + 1):
        on = day + timedelta(days=ahead)
        found = downgrade(proposed.settings, position, figures, on, moved=False)
        if found is not None and not found.kept:
            return on, found.to_rank, found.check
    return None


def _counts(settings: LevelSettings, ranks: Counter[int]) -> list[LevelCount]:
    return [
        LevelCount(rank=rank, name=level.name, affiliates=ranks.get(rank, 0))
        for rank, level in enumerate(settings.levels, start=1)
    ]


def preview(
    repo: LevelRepository, corp_id: str, request: PreviewRequest, now: datetime, time_zone: str
) -> LevelPreview:
    """One page of the tenant's affiliates assessed under the proposed levels, nothing written."""
    stored = require_levels(repo, corp_id)
    try:
        proposed = proposal(stored, request, now)
    except InvalidInput as error:  # named as in the request: delete_rank, levels.levels.<n>…
        if request.delete_rank is not None:
            field = "delete_rank" if error.field == "rank" else error.field
        else:
            field = f"levels.{error.field}" if error.field else "levels"
        raise InvalidInput(error.message, field=field) from None
    relevels = proposed.relevels != stored.relevels
    keep = relevels and request.levels is not None and request.on_change is ChangeMode.KEEP
    kept = stored.settings if keep else None  # keep keeps the level the rules in force give
    day = local_date(now, time_zone)
    before: Counter[int] = Counter()
    after: Counter[int] = Counter()
    moves: list[Move] = []
    quotas: list[QuotaRow] = []
    soon: list[SoonDowngraded] = []
    try:
        page, cursor = repo.affiliates(corp_id, request.cursor, request.page_size)
    except ValueError:
        raise InvalidInput("cursor is not one this API returned", field="cursor") from None
    for affiliate in page:
        standing = repo.standing(corp_id, affiliate)
        rank_before = followed_rank(stored, standing)[0]
        before[rank_before] += 1
        rank_after, quota, position = _after(repo, proposed, standing, now, time_zone, relevels, kept)
        after[rank_after] += 1
        if rank_after != rank_before:
            direction: Literal["up", "down"] = "up" if rank_after > rank_before else "down"
            moves.append(
                Move(affiliate_id=affiliate, from_rank=rank_before, to_rank=rank_after, direction=direction)
            )
        if request.on_change is ChangeMode.KEEP and request.levels is not None and quota:
            quotas.append(QuotaRow(affiliate_id=affiliate, rank=rank_after, quota=quota))
        figures = figures_of(repo, standing, proposed, now, time_zone, day + timedelta(days=HORIZONS[-1]))
        found = _soonest_downgrade(proposed, position, figures, day, HORIZONS[-1])
        if found is not None:
            on, to_rank, kind = found
            soon.append(
                SoonDowngraded(affiliate_id=affiliate, rank=rank_after, to_rank=to_rank, on=on, check=kind)
            )
    return LevelPreview(
        rule_version=stored.version,
        relevels=relevels,
        members=_counts(stored.settings, Counter(repo.members(corp_id))),
        affiliates=len(page),
        before=_counts(stored.settings, before),
        after=_counts(proposed.settings, after),
        moves=moves,
        quotas=quotas,
        downgraded_within_7_days=[row for row in soon if row.on <= day + timedelta(days=HORIZONS[0])],
        downgraded_within_30_days=soon,
        next_cursor=cursor,
    )


def _after(
    repo: LevelRepository,
    proposed: StoredLevels,
    standing: Standing,
    now: datetime,
    time_zone: str,
    relevels: bool,
    kept: LevelSettings | None = None,
) -> tuple[int, dict[str, int], Position]:
    """The affiliate's level and quota once they follow the proposal, and their position then."""
    day = local_date(now, time_zone)
    rank, _ = followed_rank(proposed, standing)
    if not relevels:
        return rank, dict(standing.quota), position_of(standing, rank, now, time_zone)
    figures = figures_of(repo, standing, proposed, now, time_zone)
    change, quota, _ = decide(proposed, standing, figures, now, time_zone, kept)
    if change is None:
        position = position_of(standing, rank, now, time_zone)
        return rank, quota, Position(rank, position.obtained, day, quota)
    obtained = (
        day if change.to_rank != standing.rank else position_of(standing, rank, now, time_zone).obtained
    )
    return change.to_rank, quota, Position(change.to_rank, obtained, day, quota)
