"""Answers of the guide mini-program API."""

from __future__ import annotations

from typing import NotRequired

from pydantic import BaseModel, ConfigDict, with_config
from typing_extensions import TypedDict

from incentives.guides.service import RuleView

PASS_THROUGH = ConfigDict(extra="allow")


@with_config(PASS_THROUGH)
class CustomerView(TypedDict):
    """What a guide sees of their customer: always where and when they were attached; the
    attributes only those the merchant shows guides (a hidden one is left out, not null)."""

    customer_id: str
    outlet_id: str | None
    attached_at: str | None
    guide_id: str | None
    name: NotRequired[str]
    mobile: NotRequired[str | None]
    """Masked."""
    gender: NotRequired[str | None]
    birthday: NotRequired[str | None]
    member_level: NotRequired[str | None]
    remark: NotRequired[str | None]
    tag_ids: NotRequired[list[str]]
    """Of the customer's tags, those guides see."""
    editable: NotRequired[list[str]]
    """The attributes the guide may edit."""


class CustomerTags(BaseModel):
    """A customer's tags that guides see, after a change."""

    customer_id: str
    tag_ids: list[str]


class GuideIncentives(BaseModel):
    """The active programs' rules and what the guide earned."""

    programs: list[RuleView]
    this_month_fen: int
    total_fen: int
    carried_fen: int
