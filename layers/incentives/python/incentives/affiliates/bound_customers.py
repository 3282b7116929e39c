"""Binding customers to affiliates on ``referral.clicked`` (SPEC §4.4 "Binding")."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from incentives.affiliates.binding import Click, bound_at, keep, periods, refuse_binding
from incentives.affiliates.ports import (
    AffiliateRepository,
    BindingSaved,
    Change,
    FiguresAdded,
    LevelSource,
    Record,
    Stale,
)
from incentives.affiliates.profiles import chain_of, profile
from incentives.affiliates.program import ProgramSettings
from incentives.core.clock import DEFAULT_TIME_ZONE, iso_utc, parse_instant
from incentives.core.errors import ConcurrentModification
from incentives.levels.assessment import Trigger
from incentives.levels.metrics import affiliates_of, binding_contributions, minus
from incentives.levels.ports import AppliedSource
from incentives.levels.service import assess_owed

MAX_ATTEMPTS = 5

if TYPE_CHECKING:
    from incentives.webhook.models import ReferralClicked


def clicks_of(item: Record | None) -> list[Click]:
    return [Click(c["affiliate_id"], parse_instant(c["at"])) for c in (item or {}).get("clicks", [])]


def binding_at(
    affiliates: AffiliateRepository, corp_id: str, settings: ProgramSettings, customer_id: str, at: datetime
) -> str | None:
    """The affiliate ``customer_id`` was bound to at ``at`` under the current binding mode."""
    item = affiliates.binding(corp_id, customer_id)
    return bound_at(clicks_of(item), settings.binding_mode, settings.binding_days, at)


def binding_source(customer_id: str) -> str:
    """The source of a customer's bound-customer figures (绑定客户数)."""
    return f"binding:{customer_id}"


def bind(
    affiliates: AffiliateRepository,
    corp_id: str,
    event_id: str,
    click: ReferralClicked,
    now: datetime,
    *,
    time_zone: str = DEFAULT_TIME_ZONE,
) -> str:
    """Record an accepted click; the binding periods follow from all of them (order-independent).

    Each affiliate who ever had the customer counts them once in their bound customers, on the
    day their first binding began: written with the binding, so a late earlier click moves it."""
    settings = affiliates.settings(corp_id)
    if not settings.promotion_enabled:
        return "promotion is switched off: not bound"
    if profile(affiliates, corp_id, click.affiliate_id) is None:
        return f"{click.affiliate_id} is not an affiliate: not bound"
    chain = chain_of(affiliates, corp_id, click.affiliate_id)
    refusal = refuse_binding(click.customer_id, chain)
    if refusal:
        return f"not bound: {refusal}"
    levels = affiliates.levels
    for _ in range(MAX_ATTEMPTS):
        item = affiliates.binding(corp_id, click.customer_id)
        known = clicks_of(item)
        accepted = Click(click.affiliate_id, click.clicked_at)
        if accepted in known:
            return "click recorded before"
        clicks = keep([*known, accepted])
        spans = periods(clicks, settings.binding_mode, settings.binding_days)
        current = spans[-1].affiliate_id if spans else None
        ever = sorted({*(item or {}).get("ever", []), *(p.affiliate_id for p in spans)})
        binding: dict[str, Any] = {
            "customer_id": click.customer_id,
            "clicks": [{"affiliate_id": c.affiliate_id, "at": iso_utc(c.at)} for c in clicks],
            "current_affiliate_id": current,
            "bound_at": iso_utc(spans[-1].start) if spans else None,
            "ever": ever,
            # An upline never changes once joined: kept here, an order's context is read in two rounds.
            "uplines": {
                **(item or {}).get("uplines", {}),
                click.affiliate_id: chain[1] if len(chain) > 1 else None,
            },
            "updated_at": iso_utc(now),
        }
        changes: list[Change] = [BindingSaved(binding, int((item or {}).get("version", 0)))]
        newly = set(ever) - set((item or {}).get("ever", []))
        changes += [FiguresAdded(affiliate, now, {"bound_customers": 1}) for affiliate in sorted(newly)]
        source = binding_source(click.customer_id)
        counted = levels.source(corp_id, source)
        figures = AppliedSource(
            source, (counted.version if counted else 0) + 1, binding_contributions(spans, time_zone)
        )
        if counted is None or counted.applied != figures.applied:
            changes.append(LevelSource(counted, figures, Trigger(source=source, event_id=event_id, at=now)))
        try:
            affiliates.commit(corp_id, changes)
        except Stale:
            continue
        moved = minus(figures.applied, counted.applied if counted else {})
        assess_owed(levels, corp_id, affiliates_of(moved), now, time_zone)
        now_bound = bound_at(clicks, settings.binding_mode, settings.binding_days, click.clicked_at)
        return f"{click.customer_id} bound to {now_bound or 'nobody'} as of the click ({event_id})"
    raise ConcurrentModification(f"binding of {click.customer_id}: too many concurrent clicks, retry later")


def customers_of(
    affiliates: AffiliateRepository,
    corp_id: str,
    affiliate_id: str,
    now: datetime,
    settings: ProgramSettings | None = None,
) -> list[dict[str, Any]]:
    """The customers bound to an affiliate now (an expiring binding that lapsed is left out)."""
    settings = settings or affiliates.settings(corp_id)
    found = []
    for item in affiliates.customers(corp_id, affiliate_id):
        if bound_at(clicks_of(item), settings.binding_mode, settings.binding_days, now) == affiliate_id:
            found.append({"customer_id": item["customer_id"], "bound_at": item["bound_at"]})
    return found
