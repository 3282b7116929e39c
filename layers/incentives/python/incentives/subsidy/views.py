"""Read models of the subsidy area: the per-order expectation and the evidence trail."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from incentives.subsidy.campaign import Campaign
from incentives.subsidy.case import SubsidyCase
from incentives.subsidy.computation import Figures, compute
from incentives.subsidy.ports import SubsidyExpectation
from incentives.webhook.models import SceneSignal


def figures_of(case: SubsidyCase, campaign: Campaign | None) -> Figures | None:
    """Settled: the settlement's figures; before: the provisional ones on the amount paid."""
    if case.settlement is not None:
        return case.settlement.figures
    if case.order is None or case.attribution is None:
        return None
    return compute(case.order, {}, case.attribution, campaign)


def evidence_of(case: SubsidyCase) -> tuple[str, ...]:
    if case.attribution is None:
        return ()
    lines = list(case.attribution.evidence())
    lines.extend(
        f"attribution changed at {change.at.isoformat()}: {change.before} → {change.after} ({change.reason})"
        for change in case.changes
    )
    if case.flag is not None:
        lines.append(f"flagged by {case.flag.by} at {case.flag.at.isoformat()}: {case.flag.reason}")
    return tuple(lines)


def expectation_of(case: SubsidyCase, campaign: Campaign | None) -> SubsidyExpectation | None:
    """The expectation of a case whose order is known, None before its payment arrived."""
    attribution = case.attribution
    figures = figures_of(case, campaign)
    if attribution is None or figures is None:
        return None
    return SubsidyExpectation(
        corp_id=case.corp_id,
        order_id=case.order_id,
        campaign_id=attribution.campaign_id,
        scene=attribution.scene,
        in_plan=attribution.in_plan,
        settled_fen=figures.settled_fen,
        standard_rate_ppm=figures.standard_rate_ppm,
        expected_rate_ppm=figures.expected_rate_ppm,
        expected_fee_fen=figures.expected_fee_fen,
        fee_saving_fen=figures.fee_saving_fen,
        growth_card_fen=figures.growth_card_fen,
        card_recipient=attribution.recipient,
        state=case.state.value,
        evidence=evidence_of(case),
    )


class TrailEntry(BaseModel):
    entry_id: str
    kind: str
    amount_fen: int
    at: datetime
    ref: str = Field(description="The order, or for a clawback the entry it reverses")
    note: str


class TrailChange(BaseModel):
    event_id: str
    at: datetime
    before: str
    after: str
    reason: str


class TrailSignals(BaseModel):
    event_id: str
    at: datetime
    reason: str
    signals: list[str]


class OrderTrail(BaseModel):
    """One order's subsidy: the figures, the evidence chain, the attribution's history, the entries."""

    order_id: str
    state: str = Field(description="provisional | final | clawed_back")
    campaign_id: str | None
    scene: str | None = Field(description="The winning scene when in the plan")
    in_plan: bool
    paid_day: str | None
    settled_fen: int
    standard_rate_ppm: int
    expected_rate_ppm: int
    expected_fee_fen: int
    fee_saving_fen: int
    growth_card_fen: int
    card_recipient: str | None
    evidence: list[str]
    source_reports: list[TrailSignals]
    changes: list[TrailChange]
    entries: list[TrailEntry]


def _signal_text(signal: SceneSignal) -> str:
    values = signal.model_dump(exclude_defaults=True, exclude={"kind"}, mode="json")
    return signal.kind + (f" {values}" if values else "")


def trail_of(case: SubsidyCase, campaign: Campaign | None, time_zone: str) -> OrderTrail:
    expectation = expectation_of(case, campaign)
    entries = [*(case.settlement.entries if case.settlement else ()), *case.clawbacks]
    return OrderTrail(
        order_id=case.order_id,
        state=case.state.value,
        campaign_id=expectation.campaign_id if expectation else None,
        scene=expectation.scene if expectation else None,
        in_plan=expectation.in_plan if expectation else False,
        paid_day=case.paid_day(time_zone),
        settled_fen=expectation.settled_fen if expectation else 0,
        standard_rate_ppm=expectation.standard_rate_ppm if expectation else 0,
        expected_rate_ppm=expectation.expected_rate_ppm if expectation else 0,
        expected_fee_fen=expectation.expected_fee_fen if expectation else 0,
        fee_saving_fen=expectation.fee_saving_fen if expectation else 0,
        growth_card_fen=expectation.growth_card_fen if expectation else 0,
        card_recipient=expectation.card_recipient if expectation else None,
        evidence=list(evidence_of(case)),
        source_reports=[
            TrailSignals(
                event_id=report.event_id,
                at=report.at,
                reason=report.reason,
                signals=[_signal_text(signal) for signal in report.signals],
            )
            for report in case.reports
        ],
        changes=[
            TrailChange(event_id=c.event_id, at=c.at, before=c.before, after=c.after, reason=c.reason)
            for c in case.changes
        ],
        entries=[
            TrailEntry(
                entry_id=entry.entry_id,
                kind=entry.kind.value,
                amount_fen=entry.amount_fen,
                at=entry.at,
                ref=entry.ref,
                note=entry.note,
            )
            for entry in entries
        ],
    )
