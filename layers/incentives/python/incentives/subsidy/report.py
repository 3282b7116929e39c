"""The subsidy report: per campaign, scene and day (the order's paid day, merchant time).

Only settled orders in the plan count; a clawed-back order leaves the figures (its clawback is
shown in its own columns), a provisional one is not counted yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from pydantic import BaseModel

from incentives.subsidy.case import CaseState, SubsidyCase

CSV_COLUMNS = (
    "campaign_id",
    "scene",
    "day",
    "orders",
    "settled_fen",
    "fee_saved_fen",
    "growth_cards_fen",
    "clawed_back_orders",
    "clawed_back_fen",
)


class ReportRow(BaseModel):
    campaign_id: str
    scene: str
    day: date
    orders: int = 0
    settled_fen: int = 0
    fee_saved_fen: int = 0
    growth_cards_fen: int = 0
    clawed_back_orders: int = 0
    clawed_back_fen: int = 0


class ReportFilter(BaseModel):
    campaign_id: str | None = None
    scene: str | None = None
    day_from: date | None = None
    day_to: date | None = None


def report(cases: Iterable[SubsidyCase], time_zone: str, wanted: ReportFilter) -> list[ReportRow]:
    """Rows sorted by campaign, day and scene."""
    rows: dict[tuple[str, str, str], ReportRow] = {}
    for case in cases:
        attribution, settlement = case.attribution, case.settlement
        if attribution is None or settlement is None or not attribution.in_plan or case.order is None:
            continue
        day_text = case.paid_day(time_zone)
        campaign_id, scene = attribution.campaign_id or "", attribution.scene or ""
        assert day_text is not None
        day = date.fromisoformat(day_text)
        if (
            (wanted.campaign_id and wanted.campaign_id != campaign_id)
            or (wanted.scene and wanted.scene != scene)
            or (wanted.day_from and day < wanted.day_from)
            or (wanted.day_to and day > wanted.day_to)
        ):
            continue
        row = rows.setdefault(
            (campaign_id, day_text, scene), ReportRow(campaign_id=campaign_id, scene=scene, day=day)
        )
        figures = settlement.figures
        if case.state is CaseState.CLAWED_BACK:
            row.clawed_back_orders += 1
            row.clawed_back_fen += sum(entry.amount_fen for entry in case.clawbacks)
            continue
        row.orders += 1
        row.settled_fen += figures.settled_fen
        row.fee_saved_fen += figures.fee_saving_fen
        row.growth_cards_fen += figures.growth_card_fen
    return [rows[key] for key in sorted(rows)]
