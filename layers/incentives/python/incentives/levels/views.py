"""What the consoles and the distribution center show of levels (typed answers of the APIs)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from incentives.core.clock import local_date
from incentives.core.errors import NotFound
from incentives.levels.assessment import LevelChange, ThresholdCheck, next_levels
from incentives.levels.ports import LevelRepository, StoredLevels
from incentives.levels.service import current_rank, figures_of, level_rate
from incentives.levels.settings import Strategy, Threshold, default_background


class LevelRow(BaseModel):
    rank: int
    name: str
    commission_rate_bp: int | None
    strategy: Strategy
    period_days: int | None
    threshold: Threshold | None
    background_image_url: str
    background_is_default: bool
    description: str
    member_count: int | None = Field(description="Affiliates at this level when last counted (every 2 hours)")


class LevelsView(BaseModel):
    version: int = Field(description="Rule version (0: no levels set yet)")
    show_description: bool
    updated_at: datetime | None
    members_counted_at: datetime | None
    levels: list[LevelRow]


def levels_view(repo: LevelRepository, corp_id: str) -> LevelsView:
    stored = repo.settings(corp_id)
    if stored is None:
        return LevelsView(
            version=0, show_description=True, updated_at=None, members_counted_at=None, levels=[]
        )
    counted = repo.member_counts(corp_id)
    return LevelsView(
        version=stored.version,
        show_description=stored.settings.show_description,
        updated_at=stored.updated_at,
        members_counted_at=counted.counted_at,
        levels=[
            LevelRow(
                rank=rank,
                name=level.name,
                commission_rate_bp=level.commission_rate_bp,
                strategy=level.strategy,
                period_days=level.period_days,
                threshold=level.threshold,
                background_image_url=level.background_image_url or default_background(rank),
                background_is_default=level.background_image_url is None,
                description=level.description,
                member_count=counted.counts.get(rank, 0) if counted.counted_at else None,
            )
            for rank, level in enumerate(stored.settings.levels, start=1)
        ],
    )


class NextLevel(ThresholdCheck):
    commission_rate_bp: int | None


class MyLevel(BaseModel):
    """An affiliate's level, its rate, and what they need for each level above (★ what remains)."""

    affiliate_id: str
    rank: int
    name: str
    since: datetime | None
    commission_rate_bp: int = Field(description="The rate new orders earn: the level's, else the program's")
    rate_from: Literal["level", "program"]
    background_image_url: str
    description: str | None = Field(description="The level description, when the merchant shows it")
    rule_version: int
    as_of: date = Field(description="The day the figures are counted up to (merchant time)")
    next_levels: list[NextLevel] = Field(
        description="Automatic levels above: each condition with the figure, the threshold and what remains"
    )
    quota: dict[str, int] = Field(
        default_factory=dict, description="Quota offsets (配额) included in the figures, by metric"
    )


def require_levels(repo: LevelRepository, corp_id: str) -> StoredLevels:
    stored = repo.settings(corp_id)
    if stored is None:
        raise NotFound("the merchant has set no levels", field="levels")
    return stored


def my_level(
    repo: LevelRepository,
    corp_id: str,
    affiliate_id: str,
    program_rate_bp: int,
    now: datetime,
    time_zone: str,
) -> MyLevel:
    stored = require_levels(repo, corp_id)
    standing = repo.standing(corp_id, affiliate_id)
    rank = current_rank(stored, standing)
    level = stored.settings.levels[rank - 1]
    day = local_date(now, time_zone)
    figures = figures_of(repo, standing, stored, now, time_zone)
    rate = level_rate(stored, rank)
    return MyLevel(
        affiliate_id=affiliate_id,
        rank=rank,
        name=level.name,
        since=standing.since,
        commission_rate_bp=program_rate_bp if rate is None else rate,
        rate_from="program" if rate is None else "level",
        background_image_url=level.background_image_url or default_background(rank),
        description=level.description if stored.settings.show_description else None,
        rule_version=stored.version,
        as_of=day,
        quota=standing.quota,
        next_levels=[
            NextLevel(**check.model_dump(), commission_rate_bp=level_rate(stored, check.rank))
            for check in next_levels(stored.settings, rank, figures, day, standing.quota)
        ],
    )


class LevelHistory(BaseModel):
    affiliate_id: str
    rank: int
    name: str | None
    changes: list[LevelChange] = Field(description="Every level change, newest first, each with its why")


def history(repo: LevelRepository, corp_id: str, affiliate_id: str, *, for_affiliate: bool) -> LevelHistory:
    """The affiliate's level changes; the affiliate's own view leaves out who in the console acted."""
    stored = repo.settings(corp_id)
    standing = repo.standing(corp_id, affiliate_id)
    rank = current_rank(stored, standing)
    level = stored.settings.level(rank) if stored else None
    changes = repo.changes(corp_id, affiliate_id)
    if for_affiliate:
        changes = [change.model_copy(update={"actor": None}) for change in changes]
    return LevelHistory(
        affiliate_id=affiliate_id, rank=rank, name=level.name if level else None, changes=changes
    )
