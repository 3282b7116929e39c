"""The affiliate program's settings (seed 001 §2.1, seed 003 招募计划), pure.

One settings document per tenant. Limits are the seed's: the display name has at most 6
characters, the invitation title at most 25. Every model forbids unknown keys, so a
misspelled setting is an error naming it rather than a silent default.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from incentives.affiliates.application import ApplicationSettings, DefaultField
from incentives.core.money import BasisPoints, Fen
from incentives.orders import DEFAULT_AFTER_SALES_WINDOW_DAYS


class PromotableStores(StrEnum):
    ALL = "all"
    """Every affiliate may promote every store."""
    APPLIED = "applied"
    """An affiliate promotes only the stores they applied for and the merchant approved."""


class PromotionType(StrEnum):
    GOODS = "goods"
    GROUP_BUY = "group_buy"


class BindingMode(StrEnum):
    PERMANENT = "permanent"
    """The first affiliate a customer is bound to keeps them."""
    OVERRIDE = "override"
    """The last link the customer opened wins."""
    EXPIRING = "expiring"
    """A binding lasts ``binding_days`` from the click, then the customer is free again."""


class MaterialParameters(StrEnum):
    """What a shared poster / material carries (seed 001 §2.1.2 4)."""

    AFFILIATE = "affiliate"
    AFFILIATE_AND_STORE = "affiliate_and_store"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProductRates(_Strict):
    """A product's own rates; each overrides the level / global rate when set (seed 003 推广产品)."""

    commission_rate_bp: BasisPoints | None = None
    invite_rate_bp: BasisPoints | None = None


class Figure(StrEnum):
    """The six figures of the distribution center (seed 001 §四.2)."""

    TODAY_RETURNED = "today_returned"
    TODAY_ISSUED = "today_issued"
    PENDING_SETTLEMENT = "pending_settlement"
    CUMULATIVE_REWARDS = "cumulative_rewards"
    RECEIVABLE = "receivable"
    PAID_ORDERS = "paid_orders"


Url = Annotated[str, Field(max_length=500, pattern=r"^https://")]


class Announcement(_Strict):
    title: Annotated[str, Field(min_length=1, max_length=10)]
    page_url: Url


class PromotionButtons(_Strict):
    """Names of the promotion figures' buttons (推广业绩), each at most 8 characters."""

    customers: Annotated[str, Field(min_length=1, max_length=8)] = "推广客户"
    invited_affiliates: Annotated[str, Field(min_length=1, max_length=8)] = "邀请微客"
    orders: Annotated[str, Field(min_length=1, max_length=8)] = "推广订单"


class ToolAction(StrEnum):
    PAGE = "page"
    SHARE = "share"


class PromotionTool(_Strict):
    """A custom promotion tool (推广工具) next to the six fixed ones."""

    name: Annotated[str, Field(min_length=1, max_length=8)]
    icon_url: Url
    action: ToolAction
    link_url: Url
    share_title: Annotated[str, Field(min_length=1, max_length=25)] | None = None
    share_content: Annotated[str, Field(min_length=1, max_length=40)] | None = None

    @model_validator(mode="after")
    def _share_fields(self) -> PromotionTool:
        if self.action is ToolAction.PAGE and (self.share_title or self.share_content):
            raise ValueError("share_title and share_content apply to action share only")
        return self


class ImageNavigation(_Strict):
    image_url: Url
    link_url: Url


class CenterPage(_Strict):
    """How the distribution center looks (seed 001 §四): what it shows, in which order."""

    title: Annotated[str, Field(min_length=1, max_length=20)] = "分销中心"
    top_image_url: Url | None = None
    figures: Annotated[list[Figure], Field(max_length=4)] = [
        Figure.PENDING_SETTLEMENT,
        Figure.CUMULATIVE_REWARDS,
        Figure.TODAY_ISSUED,
        Figure.PAID_ORDERS,
    ]
    """At most 4 of the six, in display order."""
    announcements: Annotated[list[Announcement], Field(max_length=10)] = []
    promotion_buttons: PromotionButtons = PromotionButtons()
    custom_tools: Annotated[list[PromotionTool], Field(max_length=6)] = []
    """Up to 6 beside the 6 fixed tools (12 at most)."""
    image_navigation: Annotated[list[ImageNavigation], Field(max_length=10)] = []

    @model_validator(mode="after")
    def _distinct_figures(self) -> CenterPage:
        if len(set(self.figures)) != len(self.figures):
            raise ValueError("figures lists a figure twice")
        return self


class ProgramSettings(_Strict):
    display_name: Annotated[str, Field(min_length=1, max_length=6)] = "微客"
    promotion_enabled: bool = False
    promotable_stores: PromotableStores = PromotableStores.ALL
    promotion_types: Annotated[list[PromotionType], Field(max_length=2)] = [
        PromotionType.GOODS,
        PromotionType.GROUP_BUY,
    ]
    material_parameters: MaterialParameters = MaterialParameters.AFFILIATE
    invitation_title: Annotated[str, Field(min_length=1, max_length=25)] = "邀请你成为微客"
    invitation_image_url: Url | None = None
    """Required once promotion is on (seed 001 §2.1.3: title and image are both required)."""
    binding_mode: BindingMode = BindingMode.PERMANENT
    binding_days: Annotated[StrictInt, Field(ge=1, le=3650)] | None = None
    self_purchase_commission: bool = False
    commission_rate_bp: BasisPoints = 0
    invite_rate_bp: BasisPoints = 0
    product_rates: Annotated[
        dict[Annotated[str, Field(min_length=1, max_length=64)], ProductRates], Field(max_length=2000)
    ] = {}
    """Per product id; bounded so the settings stay one item."""
    withdrawal_threshold_fen: Fen = 100
    after_sales_window_days: Annotated[StrictInt, Field(ge=0, le=90)] = DEFAULT_AFTER_SALES_WINDOW_DAYS
    application: ApplicationSettings = ApplicationSettings()
    center: CenterPage = CenterPage()
    community_group_buy: bool = False
    """The merchant runs community group-buy (社区团购); only then may the form ask for a community."""

    @model_validator(mode="after")
    def _consistent(self) -> ProgramSettings:
        if self.binding_mode is BindingMode.EXPIRING and self.binding_days is None:
            raise ValueError("binding_days is required when binding_mode is expiring")
        if self.binding_mode is not BindingMode.EXPIRING and self.binding_days is not None:
            raise ValueError("binding_days applies only to binding_mode expiring")
        if len(set(self.promotion_types)) != len(self.promotion_types):
            raise ValueError("promotion_types lists a type twice")
        if self.promotion_enabled and self.invitation_image_url is None:
            raise ValueError("invitation_image_url is required once promotion is on")
        if self.application.form.switch(DefaultField.COMMUNITY).enabled and not self.community_group_buy:
            raise ValueError("the community field needs community_group_buy (seed 001 §2.2.1 (4))")
        return self


def commission_rate(settings: ProgramSettings, product_id: str, level_rate_bp: int | None) -> int:
    """The affiliate's rate on a product: its override, else the affiliate's level rate, else the global."""
    override = settings.product_rates.get(product_id)
    if override is not None and override.commission_rate_bp is not None:
        return override.commission_rate_bp
    if level_rate_bp is not None:
        return level_rate_bp
    return settings.commission_rate_bp


def invite_rate(settings: ProgramSettings, product_id: str) -> int:
    """The upline's invite reward rate on a product: its override, else the global invite rate."""
    override = settings.product_rates.get(product_id)
    if override is not None and override.invite_rate_bp is not None:
        return override.invite_rate_bp
    return settings.invite_rate_bp
