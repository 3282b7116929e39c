"""A subsidy campaign: its window, the shop's enrolment and the rates (seed 004).

The seed gives the reduced rate (1 %), the growth-card cap (0.4 %), the excluded categories,
the rating threshold and the scene priority; it does not give the standard fee rate, which is
configured per top-level category with a default for unlisted ones.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from incentives.core.money import Ppm

PlanScene = Literal["promoter", "wecom_share", "mini_program", "official_account", "live_reservation"]
"""The scenes the seed ranks; promoter (推客) orders rank first and are not in the plan."""

SEED_SCENE_PRIORITY: tuple[PlanScene, ...] = (
    "promoter",
    "wecom_share",
    "mini_program",
    "official_account",
    "live_reservation",
)
"""推客 > 分享 > 小程序 > 公众号/服务号 > 预约直播 (seed 004)."""

DEFAULT_STANDARD_RATE_PPM = 50_000
"""5 %: the seed is silent on the standard rate; every campaign may set it per category."""

CategoryName = Annotated[str, Field(min_length=1, max_length=64)]
CampaignId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@\-]+$")]


class Terms(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class ExcludedCategory(Terms):
    """A top-level category (一级类目) whose orders are not in the plan, but for some sub-categories."""

    category: CategoryName
    except_subcategories: Annotated[list[CategoryName], Field(max_length=50)] = []


SEED_EXCLUSIONS = (
    ExcludedCategory(category="文玩"),
    ExcludedCategory(category="珠宝首饰", except_subcategories=["黄金", "珍珠"]),
)


class Enrolment(Terms):
    """The shop's sign-up (微信小店后台 → 营销中心 → 平台活动)."""

    signed_up_on: date = Field(description="The day the shop signed up (merchant time)")
    rating_at_sign_up: Annotated[float, Field(ge=0, le=5)] = Field(
        description="The shop's rating (店铺评分) when it signed up"
    )


class CampaignTerms(Terms):
    """What an operator sets: create and update take the whole of it."""

    name: Annotated[str, Field(min_length=1, max_length=100)]
    starts_on: date = Field(description="First day of the window, merchant time (inclusive)")
    ends_on: date = Field(description="Last day of the window, merchant time (inclusive)")
    enrolment: Enrolment | None = Field(default=None, description="None: the shop has not signed up")
    min_rating_exclusive: Annotated[float, Field(ge=0, le=5)] = Field(
        default=4.2, description="The rating at sign-up must be above this"
    )
    standard_rate_ppm_by_category: Annotated[dict[CategoryName, Ppm], Field(max_length=200)] = Field(
        default_factory=dict, description="Standard technical service fee per top-level category (ppm)"
    )
    default_standard_rate_ppm: Ppm = Field(
        default=DEFAULT_STANDARD_RATE_PPM, description="Standard rate of categories not listed (ppm)"
    )
    reduced_rate_ppm: Ppm = Field(default=10_000, description="The plan's fee rate (ppm; 1 % = 10000)")
    growth_card_cap_ppm: Ppm = Field(default=4_000, description="Growth card, at most this of the amount")
    excluded_categories: Annotated[list[ExcludedCategory], Field(max_length=50)] = Field(
        default_factory=lambda: list(SEED_EXCLUSIONS)
    )
    exclude_local_life: StrictBool = Field(default=True, description="Local-life shops are not in the plan")
    scene_priority: list[PlanScene] = Field(
        default_factory=lambda: list(SEED_SCENE_PRIORITY),
        description="Every scene once, highest priority first",
    )

    @model_validator(mode="after")
    def _consistent(self) -> CampaignTerms:
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        if sorted(self.scene_priority) != sorted(SEED_SCENE_PRIORITY):
            raise ValueError(f"scene_priority must name each of {', '.join(SEED_SCENE_PRIORITY)} once")
        rates = [self.default_standard_rate_ppm, *self.standard_rate_ppm_by_category.values()]
        if self.reduced_rate_ppm > min(rates):
            raise ValueError("reduced_rate_ppm is above a standard rate")
        return self

    def standard_rate_ppm(self, category_path: list[str]) -> int:
        top = category_path[0] if category_path else ""
        return self.standard_rate_ppm_by_category.get(top, self.default_standard_rate_ppm)

    def covers(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on


class Campaign(CampaignTerms):
    """A stored campaign: its terms, its id and its version (each update is a new version)."""

    campaign_id: CampaignId
    version: Annotated[int, Field(ge=1)] = 1
    updated_at: datetime
    updated_by: str = ""


def overlapping(campaigns: list[Campaign], campaign_id: str, terms: CampaignTerms) -> Campaign | None:
    """The other campaign whose window shares a day with ``terms``' window, if any: a shop is in
    one plan at a time, so a tenant's campaign windows never overlap (decision 130)."""
    others = (c for c in campaigns if c.campaign_id != campaign_id)
    return next((c for c in others if c.starts_on <= terms.ends_on and terms.starts_on <= c.ends_on), None)


def campaign_for(campaigns: list[Campaign], day: date) -> Campaign | None:
    """The campaign whose window holds ``day`` (windows never overlap; the earliest-starting one
    should stored campaigns predate that rule)."""
    covering = [campaign for campaign in campaigns if campaign.covers(day)]
    return min(covering, key=lambda c: (c.starts_on, c.campaign_id)) if covering else None
