"""The subsidy case of one order: a pure fold of its payment, late signals, settlement and flag.

The attribution is provisional until the order settles: each source report (the payment's,
then every ``order.source_updated``) re-attributes it, and a change is recorded with its reason.
The order's source is the *latest* report by its own time (``paid_at`` / ``updated_at``, ties by
event id), so the attribution does not depend on the order the events arrive in. Settlement
(the after-sales window closed) fixes the attribution and the figures and yields the subsidy
book's entries, once; a flag yields one clawback per entry, once. Each event applies at most once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from incentives.core.clock import local_date
from incentives.ledger.model import Entry
from incentives.subsidy.attribution import Attribution, attribute
from incentives.subsidy.campaign import Campaign, campaign_for
from incentives.subsidy.computation import Figures, clawback_entries, compute, subsidy_entries
from incentives.webhook.models import OrderFlagged, OrderPaid, OrderSourceUpdated, SceneSignal


class CaseState(StrEnum):
    PROVISIONAL = "provisional"
    FINAL = "final"
    CLAWED_BACK = "clawed_back"


@dataclass(frozen=True)
class SourceReport:
    event_id: str
    at: datetime
    signals: tuple[SceneSignal, ...]
    reason: str


@dataclass(frozen=True)
class Change:
    """The attribution moved: from what, to what, when, why."""

    event_id: str
    at: datetime
    before: str
    after: str
    reason: str


@dataclass(frozen=True)
class Settlement:
    event_id: str
    at: datetime
    refunded_by_line: Mapping[str, int]
    figures: Figures
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Flag:
    event_id: str
    at: datetime
    by: str
    reason: str


@dataclass(frozen=True)
class SubsidyCase:
    corp_id: str
    order_id: str
    version: int = 0
    order: OrderPaid | None = None
    reports: tuple[SourceReport, ...] = ()
    attribution: Attribution | None = None
    changes: tuple[Change, ...] = ()
    settlement: Settlement | None = None
    flag: Flag | None = None
    clawbacks: tuple[Entry, ...] = ()
    applied_event_ids: frozenset[str] = field(default_factory=frozenset)

    @property
    def state(self) -> CaseState:
        if self.flag is not None:
            return CaseState.CLAWED_BACK
        return CaseState.FINAL if self.settlement is not None else CaseState.PROVISIONAL

    @property
    def signals(self) -> tuple[SceneSignal, ...]:
        """The order's source now: the latest report by its own time."""
        if not self.reports:
            return ()
        return max(self.reports, key=lambda report: (report.at, report.event_id)).signals

    def paid_day(self, time_zone: str) -> str | None:
        return local_date(self.order.paid_at, time_zone).isoformat() if self.order else None


@dataclass(frozen=True)
class Step:
    """A case after one event, the entries to post with it, and what happened (for the log)."""

    case: SubsidyCase
    entries: tuple[Entry, ...]
    detail: str


def _label(attribution: Attribution | None) -> str:
    if attribution is None:
        return "unattributed"
    return attribution.scene or "not in the plan"


def _applied(case: SubsidyCase, event_id: str, **changes: object) -> SubsidyCase:
    return replace(
        case,
        **changes,  # type: ignore[arg-type]
        applied_event_ids=case.applied_event_ids | {event_id},
        version=case.version + 1,
    )


def _reattributed(
    case: SubsidyCase, event_id: str, at: datetime, reason: str, campaigns: Sequence[Campaign], time_zone: str
) -> tuple[Attribution | None, tuple[Change, ...]]:
    if case.order is None:
        return None, case.changes
    campaign = campaign_for(list(campaigns), local_date(case.order.paid_at, time_zone))
    attribution = attribute(
        case.order, list(case.signals), campaign, local_date(case.order.paid_at, time_zone)
    )
    if case.attribution is not None and _label(case.attribution) == _label(attribution):
        return attribution, case.changes
    change = Change(event_id, at, _label(case.attribution), _label(attribution), reason)
    return attribution, (*case.changes, change)


def record_payment(
    case: SubsidyCase, event_id: str, order: OrderPaid, campaigns: Sequence[Campaign], time_zone: str
) -> Step:
    """The payment's source is the first report; the order is attributed provisionally."""
    if event_id in case.applied_event_ids or case.order is not None or case.settlement is not None:
        return Step(case, (), "payment recorded before")
    report = SourceReport(event_id, order.paid_at, tuple(order.source.signals), "payment")
    with_order = replace(case, order=order, reports=(*case.reports, report))
    attribution, changes = _reattributed(with_order, event_id, order.paid_at, "payment", campaigns, time_zone)
    updated = _applied(with_order, event_id, attribution=attribution, changes=changes)
    return Step(updated, (), f"provisional: {_label(attribution)}")


def record_source_update(
    case: SubsidyCase,
    event_id: str,
    update: OrderSourceUpdated,
    campaigns: Sequence[Campaign],
    time_zone: str,
) -> Step:
    """Late signals re-attribute an unsettled order; after settlement they are only kept."""
    if event_id in case.applied_event_ids:
        return Step(case, (), "source update applied before")
    reason = update.reason or "source updated"
    report = SourceReport(event_id, update.updated_at, tuple(update.source.signals), reason)
    if case.settlement is not None or case.flag is not None:
        updated = _applied(case, event_id, reports=(*case.reports, report))
        return Step(updated, (), f"kept; attribution is final ({case.state.value})")
    with_report = replace(case, reports=(*case.reports, report))
    attribution, changes = _reattributed(
        with_report, event_id, update.updated_at, reason, campaigns, time_zone
    )
    updated = _applied(with_report, event_id, attribution=attribution, changes=changes)
    return Step(updated, (), f"provisional: {_label(attribution)}")


def settle(
    case: SubsidyCase,
    event_id: str,
    order: OrderPaid,
    refunded_by_line: Mapping[str, int],
    campaigns: Sequence[Campaign],
    time_zone: str,
    at: datetime,
) -> Step:
    """The after-sales window closed: fix the attribution, compute on the settled amount, and
    yield the subsidy book's entries (none for a flagged order: it is not paid to claw back)."""
    if event_id in case.applied_event_ids or case.settlement is not None:
        return Step(case, (), "settled before")
    base = (
        case
        if case.order is not None
        else replace(
            case,
            order=order,
            reports=(
                *case.reports,
                SourceReport(event_id, order.paid_at, tuple(order.source.signals), "payment"),
            ),
        )
    )
    attribution, changes = _reattributed(base, event_id, at, "settlement", campaigns, time_zone)
    assert attribution is not None  # base has its order
    campaign = next((c for c in campaigns if c.campaign_id == attribution.campaign_id), None)
    figures = compute(order, refunded_by_line, attribution, campaign)
    entries: list[Entry] = []
    if attribution.in_plan and attribution.campaign_id and case.flag is None:
        entries = subsidy_entries(
            case.corp_id, case.order_id, attribution.campaign_id, figures, attribution.recipient, at
        )
    settlement = Settlement(event_id, at, dict(refunded_by_line), figures, tuple(entries))
    updated = _applied(base, event_id, attribution=attribution, changes=changes, settlement=settlement)
    detail = (
        f"final: {_label(attribution)}; fee saving {figures.fee_saving_fen}, "
        f"growth card {figures.growth_card_fen}"
        if entries
        else f"final: {_label(attribution)}; nothing posted" + (" (flagged)" if case.flag else "")
    )
    return Step(updated, tuple(entries), detail)


def flag(case: SubsidyCase, event_id: str, flagged: OrderFlagged) -> Step:
    """Cheating: every subsidy entry of the order is reversed by an entry referencing it, once."""
    if event_id in case.applied_event_ids or case.flag is not None:
        return Step(case, (), "flagged before")
    mark = Flag(event_id, flagged.flagged_at, flagged.flagged_by, flagged.reason)
    originals = list(case.settlement.entries) if case.settlement else []
    reason = f"flagged by {flagged.flagged_by}: {flagged.reason}"
    clawbacks = clawback_entries(originals, reason, flagged.flagged_at)
    updated = _applied(case, event_id, flag=mark, clawbacks=tuple(clawbacks))
    detail = (
        f"clawed back {sum(e.amount_fen for e in clawbacks)} fen"
        if clawbacks
        else "flagged before settlement"
    )
    return Step(updated, tuple(clawbacks), detail)
