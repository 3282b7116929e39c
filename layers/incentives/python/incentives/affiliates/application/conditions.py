"""Who may become an affiliate: the modes, the seven conditions and the decision (seed 001 §2.2)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    model_validator,
)

from incentives.core.errors import InvalidPart
from incentives.core.money import Fen

if TYPE_CHECKING:
    from incentives.affiliates.application.form import ApplicationSettings


class BecomeMode(StrEnum):
    AUTO = "auto"
    """Meeting the conditions and completing the form makes the customer an affiliate at once."""
    APPLY = "apply"
    """The customer applies; the review decides."""


class ReviewMode(StrEnum):
    AUTO = "auto"
    MANUAL = "manual"


class Match(StrEnum):
    ALL = "all"
    ANY = "any"
    NONE = "none"
    """No threshold; allowed only when customers apply."""


class Decision(StrEnum):
    APPROVED = "approved"
    PENDING_REVIEW = "pending_review"
    REJECTED = "rejected"


Reference = Annotated[str, Field(min_length=1, max_length=128)]


MAX_COUNT = 1_000_000
"""The largest number of orders or recharges a condition may ask for."""


class SettingsModel(BaseModel):
    # Settings are typed by people: a misspelled key must be an error, and stray spaces
    # around a label must not make it a different label.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


# --- conditions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerActivity:
    """What is known of a customer when the conditions are checked.

    ``consumption_fen`` is paid + points + balance deductions of paid orders, counted at
    payment; ``consumption_count`` is the number of orders paid.
    """

    followed_official_account: bool = False
    identities: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    products_bought: frozenset[str] = frozenset()
    consumption_fen: int = 0
    consumption_count: int = 0
    recharge_fen: int = 0
    recharge_count: int = 0


class FollowedOfficialAccount(SettingsModel):
    kind: Literal["followed_official_account"] = "followed_official_account"

    def met_by(self, activity: CustomerActivity) -> bool:
        """Whether the customer follows the official account."""
        return activity.followed_official_account


class Identity(SettingsModel):
    kind: Literal["identity"] = "identity"
    identities: list[Reference] = []
    tags: list[Reference] = []

    @model_validator(mode="after")
    def _names_something(self) -> Identity:
        if not self.identities and not self.tags:
            raise InvalidPart("give at least one identity or tag", "identities")
        return self

    def met_by(self, activity: CustomerActivity) -> bool:
        """Whether the customer has any of the identities or tags."""
        return bool(activity.identities.intersection(self.identities)) or bool(
            activity.tags.intersection(self.tags)
        )


class BoughtProducts(SettingsModel):
    kind: Literal["bought_products"] = "bought_products"
    product_ids: Annotated[list[Reference], Field(min_length=1)]

    def met_by(self, activity: CustomerActivity) -> bool:
        """Whether the customer paid for any one of the products."""
        return bool(activity.products_bought.intersection(self.product_ids))


class ConsumptionAmount(SettingsModel):
    kind: Literal["consumption_amount"] = "consumption_amount"
    at_least_fen: Annotated[Fen, Field(ge=1)]

    def met_by(self, activity: CustomerActivity) -> bool:
        """Whether paid + points + balance deductions reach the amount."""
        return activity.consumption_fen >= self.at_least_fen


class ConsumptionCount(SettingsModel):
    kind: Literal["consumption_count"] = "consumption_count"
    at_least: Annotated[StrictInt, Field(ge=1, le=MAX_COUNT)]

    def met_by(self, activity: CustomerActivity) -> bool:
        """Whether the customer paid for at least that many orders."""
        return activity.consumption_count >= self.at_least


class RechargeAmount(SettingsModel):
    kind: Literal["recharge_amount"] = "recharge_amount"
    at_least_fen: Annotated[Fen, Field(ge=1)]

    def met_by(self, activity: CustomerActivity) -> bool:
        """Whether the customer recharged at least that amount in total."""
        return activity.recharge_fen >= self.at_least_fen


class RechargeCount(SettingsModel):
    kind: Literal["recharge_count"] = "recharge_count"
    at_least: Annotated[StrictInt, Field(ge=1, le=MAX_COUNT)]

    def met_by(self, activity: CustomerActivity) -> bool:
        """Whether the customer recharged at least that many times."""
        return activity.recharge_count >= self.at_least


Condition = Annotated[
    FollowedOfficialAccount
    | Identity
    | BoughtProducts
    | ConsumptionAmount
    | ConsumptionCount
    | RechargeAmount
    | RechargeCount,
    Field(discriminator="kind"),
]


# --- eligibility and decision ---------------------------------------------------------------


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    met: list[str]
    unmet: list[str]


def evaluate(settings: ApplicationSettings, activity: CustomerActivity) -> Eligibility:
    """Which conditions the customer meets, and whether that is enough under ``match``."""
    if settings.match is Match.NONE:
        return Eligibility(True, [], [])
    met: list[str] = []
    unmet: list[str] = []
    for condition in settings.conditions:
        (met if condition.met_by(activity) else unmet).append(condition.kind)
    eligible = not unmet if settings.match is Match.ALL else bool(met)
    return Eligibility(eligible, met, unmet)


def decide(settings: ApplicationSettings, eligibility: Eligibility) -> tuple[Decision, str]:
    """The outcome of an application whose answers passed :func:`validate_answers`, and why."""
    if not eligibility.eligible:
        return Decision.REJECTED, "conditions not met: " + ", ".join(eligibility.unmet)
    if settings.mode is BecomeMode.AUTO:
        return Decision.APPROVED, "meets the conditions; becomes an affiliate at once"
    if settings.review is ReviewMode.AUTO:
        return Decision.APPROVED, "application approved by automatic review"
    return Decision.PENDING_REVIEW, "application waits for the merchant's review"
