"""The merchant's affiliate levels (seed 001 §2.3.1–2.3.4), pure.

Levels are ranked by their position: ``levels[0]`` is level 1, the default level every affiliate
starts at. Each has a name (at most 6 characters, 最多6个字), a commission rate (默认分佣; none:
the program's rate), a strategy — ``manual`` (等级不会自动升降级: never entered automatically, no
threshold) or ``auto`` (按规则自动升降级) — an assessment period (不限期 or N days) and a threshold:
conditions over the ten metrics, all or any of which must hold within the period.

The models reject malformed values field by field; :func:`check` then enforces the rules
between fields and names the exact field it refuses (``levels.2.threshold``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from incentives.core.errors import InvalidInput
from incentives.core.money import BasisPoints
from incentives.levels.metrics import Metric

MAX_LEVELS = 20
MAX_PERIOD_DAYS = 365
DEFAULT_BACKGROUNDS = 8
ProductId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@\-]+$")]
Url = Annotated[str, Field(max_length=500, pattern=r"^https://")]
"""As the program's image links (``affiliates.program.Url``), without loading the program's models."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Strategy(StrEnum):
    MANUAL = "manual"
    """等级不会自动升降级: only the merchant puts an affiliate here (or, later, a downgrade rule)."""
    AUTO = "auto"
    """按规则自动升降级: affiliates rise to it when they meet its threshold within its period."""


class Match(StrEnum):
    ALL = "all"
    ANY = "any"


class Condition(_Strict):
    """One condition of a threshold: ``metric`` reaches ``at_least`` within the period."""

    metric: Metric
    at_least: Annotated[int, Field(ge=1, le=10**12, description="Count, or fen for *_fen metrics")] = 1
    product_ids: Annotated[list[ProductId], Field(min_length=1, max_length=100)] | None = None
    """``bought_products`` only: buying any one of them counts (多件指定商品购买任一即可)."""


class Threshold(_Strict):
    """等级门槛: the conditions to meet, all of them or any one."""

    match: Match = Match.ALL
    conditions: Annotated[list[Condition], Field(min_length=1, max_length=10)]


class DowngradeKind(StrEnum):
    NONE = "none"
    """不降级: never downgraded automatically."""
    THRESHOLD = "threshold"
    """等级门槛考核: when the level's threshold is no longer met within its period (a moving window
    with N days), down to the highest level whose threshold is met."""
    CYCLE = "cycle"
    """周期循环考核 (N-day periods only): cycles of N days from the day the level was obtained, each
    checked at its end against the threshold; stacks with the threshold check."""
    SINGLE = "single"
    """单次考核: once, over the X days from the day the level was obtained, checked at their end;
    stacks with the threshold check."""


class Downgrade(_Strict):
    """降级规则: when an affiliate leaves the level by the rules, and where to."""

    kind: DowngradeKind = DowngradeKind.NONE
    after_days: Annotated[int, Field(ge=1, le=MAX_PERIOD_DAYS)] | None = Field(
        default=None, description="single: the X days after obtaining the level that are checked"
    )
    to_rank: Annotated[int, Field(ge=1, le=MAX_LEVELS)] | None = Field(
        default=None,
        description="cycle / single: the level to go down to; none: the level just below (上一等级)",
    )


class Retention(_Strict):
    """保级规则: a triggered downgrade is not made when, within the X days up to the trigger's day,
    all or any of the conditions hold (seed: triggered 4.12, 3 days → 4.10–4.12)."""

    days: Annotated[int, Field(ge=1, le=MAX_PERIOD_DAYS)]
    match: Match = Match.ANY
    conditions: Annotated[list[Condition], Field(min_length=1, max_length=10)]


class ChangeMode(StrEnum):
    """调整升降级规则: how affiliates' levels follow a change of the rules."""

    RECALCULATE = "recalculate"
    """Everyone is re-levelled under the new rules (等级有变化且微客有感知)."""
    KEEP = "keep"
    """Levels stay; per affiliate and metric a quota offset makes their figures fit (配额)."""


class Level(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=6, description="At most 6 characters")]
    commission_rate_bp: BasisPoints | None = Field(
        default=None, description="The level's commission rate (默认分佣); none: the program's rate"
    )
    strategy: Strategy = Strategy.AUTO
    period_days: Annotated[int, Field(ge=1, le=MAX_PERIOD_DAYS)] | None = Field(
        default=None, description="Assessment period: the last N days; none: unlimited (不限期)"
    )
    threshold: Threshold | None = None
    background_image_url: Url | None = Field(
        default=None, description="The level's background image; none: the default image of its rank"
    )
    description: Annotated[str, Field(max_length=500)] = ""
    downgrade: Downgrade = Field(default_factory=Downgrade, description="降级规则 (none: never)")
    retention: Retention | None = Field(default=None, description="保级规则 (none: 不保级)")


class LevelSettings(_Strict):
    levels: Annotated[list[Level], Field(min_length=1, max_length=MAX_LEVELS)]
    """Ranked by position: the first is level 1, where every affiliate starts."""
    show_description: bool = True
    """等级说明: whether affiliates may open the level description (§2.3.1)."""

    def level(self, rank: int) -> Level | None:
        return self.levels[rank - 1] if 1 <= rank <= len(self.levels) else None


def check(settings: LevelSettings) -> None:
    """Refuse what the models alone cannot: every error names the field it is about."""
    names: dict[str, int] = {}
    for position, level in enumerate(settings.levels):
        where = f"levels.{position}"
        if level.name in names:
            raise InvalidInput(
                f"level {position + 1} has the name of level {names[level.name] + 1}", field=f"{where}.name"
            )
        names[level.name] = position
        if position == 0 and level.threshold is not None:
            raise InvalidInput(
                "level 1 is the default level every affiliate starts at: it has no threshold",
                field=f"{where}.threshold",
            )
        if level.strategy is Strategy.MANUAL and level.threshold is not None:
            raise InvalidInput(
                "a manual level (等级不会自动升降级) has no threshold", field=f"{where}.threshold"
            )
        if level.threshold is None and level.period_days is not None:
            raise InvalidInput(
                "an assessment period needs a threshold to assess", field=f"{where}.period_days"
            )
        if position > 0 and level.strategy is Strategy.AUTO and level.threshold is None:
            raise InvalidInput(
                "an automatic level needs a threshold to rise to it", field=f"{where}.threshold"
            )
        if level.threshold is not None:
            _check_conditions(level.threshold.conditions, f"{where}.threshold")
        _check_downgrade(settings, position, level, where)


def _check_downgrade(settings: LevelSettings, position: int, level: Level, where: str) -> None:
    rule = level.downgrade
    field = f"{where}.downgrade"
    if rule.kind is DowngradeKind.NONE:
        if rule.after_days is not None or rule.to_rank is not None:
            raise InvalidInput(
                "a level that is never downgraded has no downgrade days or target", field=field
            )
        if level.retention is not None:
            raise InvalidInput("retention applies to a downgrade rule", field=f"{where}.retention")
        return
    if level.threshold is None:
        raise InvalidInput(
            "a downgrade rule checks the level's threshold: it needs one", field=f"{field}.kind"
        )
    if rule.kind is DowngradeKind.CYCLE and level.period_days is None:
        raise InvalidInput(
            "a cycle check needs a period of N days (不限期 allows none, threshold or single)",
            field=f"{field}.kind",
        )
    if (rule.kind is DowngradeKind.SINGLE) != (rule.after_days is not None):
        raise InvalidInput(
            "after_days is the single check's (and it needs them)", field=f"{field}.after_days"
        )
    if rule.to_rank is not None:
        if rule.kind is DowngradeKind.THRESHOLD:
            raise InvalidInput(
                "the threshold check goes to the level whose threshold is met, not a named one",
                field=f"{field}.to_rank",
            )
        if rule.to_rank > position:
            raise InvalidInput(
                f"level {position + 1} goes down to a lower level, not to {rule.to_rank}",
                field=f"{field}.to_rank",
            )
    if level.retention is not None:
        _check_conditions(level.retention.conditions, f"{where}.retention")


def _check_conditions(conditions: list[Condition], where: str) -> None:
    seen: set[Metric] = set()
    for position, condition in enumerate(conditions):
        field = f"{where}.conditions.{position}"
        if condition.metric in seen:
            raise InvalidInput(f"{condition.metric.value} is listed twice", field=f"{field}.metric")
        seen.add(condition.metric)
        if condition.metric is Metric.BOUGHT_PRODUCTS and not condition.product_ids:
            raise InvalidInput("bought_products needs the products to buy", field=f"{field}.product_ids")
        if condition.metric is not Metric.BOUGHT_PRODUCTS and condition.product_ids is not None:
            raise InvalidInput("product_ids apply to bought_products only", field=f"{field}.product_ids")


def default_background(rank: int) -> str:
    """Every level has a default background image (§2.3.4), one of the mini program's assets."""
    return f"/assets/levels/background-{(rank - 1) % DEFAULT_BACKGROUNDS + 1}.png"


def target_rank(settings: LevelSettings, rank: int) -> int:
    """Where a cycle or single check of level ``rank`` sends the affiliate: its named level, else
    the level just below (上一等级)."""
    level = settings.level(rank)
    named = level.downgrade.to_rank if level else None
    return named if named is not None else max(1, rank - 1)


def without_level(settings: LevelSettings, rank: int) -> LevelSettings:
    """The levels once level ``rank`` is deleted (§2.3.5): the levels above move down one rank;
    a downgrade target that was the deleted level becomes the level below it (上一等级)."""
    if rank == 1:
        raise InvalidInput("level 1 is the default level every affiliate starts at", field="rank")
    if settings.level(rank) is None:
        raise InvalidInput(f"there are {len(settings.levels)} levels, not {rank}", field="rank")
    kept = []
    for position, level in enumerate(settings.levels, start=1):
        if position == rank:
            continue
        target = level.downgrade.to_rank
        if target is not None and target >= rank:
            target = target - 1 if target > rank else rank - 1
            level = level.model_copy(
                update={"downgrade": level.downgrade.model_copy(update={"to_rank": target})}
            )
        kept.append(level)
    return settings.model_copy(update={"levels": kept})


def longest_period(settings: LevelSettings, above_rank: int) -> int | None:
    """The longest assessment period among the levels above ``above_rank`` (None: none is limited)."""
    periods = [level.period_days for level in settings.levels[above_rank:] if level.period_days is not None]
    return max(periods) if periods else None
