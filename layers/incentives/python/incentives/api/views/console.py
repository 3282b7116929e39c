"""Answers of the operator console API (/admin) that the domain does not type itself."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from incentives.guides.rules import PreviewLine
from incentives.guides.service import RewardRecord


class GuideWelcome(BaseModel):
    user_id: str
    welcome_message: str


class TagDeleted(BaseModel):
    tag_id: str
    deleted: Literal["yes"]


class TagImport(BaseModel):
    """What an import of WeCom's tag library created, and what it skipped and why."""

    groups_created: int
    tags_created: int
    skipped: list[str]


class PreviewView(BaseModel):
    """A rule edit's dry run on this month, per guide, with the totals."""

    lines: list[PreviewLine]
    produced_fen: int = Field(description="What this month's occurrences produced")
    would_produce_fen: int = Field(description="What they would have produced under the edit, from zero")

    @classmethod
    def of(cls, lines: Sequence[PreviewLine]) -> PreviewView:
        return cls(
            lines=list(lines),
            produced_fen=sum(line.produced_fen for line in lines),
            would_produce_fen=sum(line.would_produce_fen for line in lines),
        )


class RewardOverview(BaseModel):
    """Totals of every reward record that matched (``incentives.guides.service.overview``)."""

    total_paid_fen: int
    paid_by_rule_fen: dict[str, int] = Field(description="Paid per rule, keyed by rule id")
    rule_names: dict[str, str] = Field(description="Each rule's name now, keyed by rule id")
    carried_fen: int
    records: int


class RewardRecordPage(BaseModel):
    """One page of reward records, with the overview of every record that matched."""

    items: list[RewardRecord]
    next_cursor: str | None
    overview: RewardOverview

    @classmethod
    def of(
        cls, page: Sequence[RewardRecord], next_cursor: str | None, overview: dict[str, Any]
    ) -> RewardRecordPage:
        return cls(
            items=list(page), next_cursor=next_cursor, overview=RewardOverview.model_validate(overview)
        )
