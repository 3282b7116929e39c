"""Becoming an affiliate (seed 001 §2.2): applying, the merchant's review, joining.

Applications are checked against the customer's recorded activity. Raw answers are stored for
the merchant's review; every answer of the API masks mobiles and ID numbers
(:func:`application_view`), and nothing here logs them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from incentives.affiliates.activity import activity, condition_products
from incentives.affiliates.application import Decision, decide, evaluate, masked_answers, validate_answers
from incentives.affiliates.ports import (
    AffiliateJoined,
    AffiliateRepository,
    ApplicationReviewed,
    ApplicationSubmitted,
    Change,
    FiguresAdded,
    LevelFigures,
    Record,
    Stale,
)
from incentives.affiliates.profiles import chain_of, profile
from incentives.affiliates.program import ProgramSettings
from incentives.core.clock import DEFAULT_TIME_ZONE, iso_utc
from incentives.core.errors import ConcurrentModification, Conflict, InvalidInput, NotFound
from incentives.levels.assessment import Trigger
from incentives.levels.metrics import Metric, one
from incentives.levels.service import assess_owed

OPENID = r"^[A-Za-z0-9_\-]{6,64}$"


class ApplicationInput(BaseModel):
    answers: dict[str, Any] = Field(default_factory=dict, description="Form answers by field key")
    openid: str | None = Field(
        default=None,
        pattern=OPENID,
        description="The applicant's openid under the merchant's app: taken from the sign-in when it "
        "verified one (then this may be left out, and must match if sent); required otherwise",
    )
    invited_by: str | None = Field(
        default=None, max_length=128, description="The affiliate whose invitation link was opened"
    )


def _joining(
    affiliates: AffiliateRepository,
    corp_id: str,
    customer_id: str,
    settings: ProgramSettings,
    app: Record,
    now: datetime,
    time_zone: str,
) -> list[Change]:
    """The new affiliate (at the default level) and, for their inviter, one more invited affiliate."""
    upline = app.get("invited_by") or None
    joined = {
        "affiliate_id": customer_id,
        "status": "active",
        "name": str(app.get("answers", {}).get("name", "")),
        "openid": app["openid"],
        "upline_id": upline,
        "joined_at": iso_utc(now),
        "approved_stores": [],
        "types": [t.value for t in settings.promotion_types],
        "level_rate_bp": None,
    }
    changes: list[Change] = [AffiliateJoined(joined, affiliates.levels.settings(corp_id))]
    if upline:
        changes.append(FiguresAdded(upline, now, {"invited_affiliates": 1}))
        figures = one(upline, Metric.INVITED_AFFILIATES, now, time_zone)
        changes.append(LevelFigures(figures, Trigger(source=f"joined:{customer_id}", at=now)))
    return changes


def _joined(
    affiliates: AffiliateRepository, corp_id: str, app: Record, now: datetime, time_zone: str
) -> None:
    """After joining: the inviter, owed an assessment, may rise (seed: levels by invited affiliates)."""
    if app.get("invited_by"):
        assess_owed(affiliates.levels, corp_id, [app["invited_by"]], now, time_zone)


def applicant_openid(sent: str | None, signed: str | None) -> str:
    """The openid an affiliate is paid at: the one their sign-in verified; one sent in the body only
    when the sign-in carried none (a token the merchant's own sign-in issued), never another."""
    if signed is not None:
        if sent is not None and sent != signed:
            raise InvalidInput("openid must be the one you signed in with (or left out)", field="openid")
        return signed
    if sent is None:
        raise InvalidInput("openid is required: the sign-in carried none", field="openid")
    return sent


def submit_application(
    affiliates: AffiliateRepository,
    corp_id: str,
    customer_id: str,
    body: ApplicationInput,
    now: datetime,
    *,
    time_zone: str = DEFAULT_TIME_ZONE,
    signed_openid: str | None = None,
) -> dict[str, Any]:
    """Apply (or, in mode ``auto``, become an affiliate at once). Nothing is stored when refused.
    ``signed_openid``: the openid the caller's sign-in verified, which transfers will pay."""
    openid = applicant_openid(body.openid, signed_openid)
    settings = affiliates.settings(corp_id)
    if affiliates.profile(corp_id, customer_id) is not None:
        raise Conflict("you are an affiliate already", field="customer_id")
    existing = affiliates.application(corp_id, customer_id)
    if existing is not None and existing["status"] == Decision.PENDING_REVIEW:
        raise Conflict("your application is under review", field="customer_id")
    answers = validate_answers(settings.application.form, body.answers)
    if body.invited_by:
        if profile(affiliates, corp_id, body.invited_by) is None:
            raise InvalidInput(f"{body.invited_by} is not an affiliate", field="invited_by")
        if customer_id in chain_of(affiliates, corp_id, body.invited_by):
            raise InvalidInput("an affiliate cannot invite themself or their own upline", field="invited_by")
    eligibility = evaluate(
        settings.application,
        activity(affiliates, corp_id, customer_id, condition_products(settings)),
    )
    decision, reason = decide(settings.application, eligibility)
    if decision is Decision.REJECTED:
        raise Conflict(reason, field="conditions")
    app = {
        "customer_id": customer_id,
        "answers": answers,
        "openid": openid,
        "invited_by": body.invited_by,
        "status": decision.value,
        "reason": reason,
        "submitted_at": iso_utc(now),
        "reviewed_at": iso_utc(now) if decision is Decision.APPROVED else None,
        "reviewed_by": "auto" if decision is Decision.APPROVED else None,
    }
    changes: list[Change] = [
        ApplicationSubmitted(app, None if existing is None else existing["submitted_at"])
    ]
    if decision is Decision.APPROVED:
        changes += _joining(affiliates, corp_id, customer_id, settings, app, now, time_zone)
    try:
        affiliates.commit(corp_id, changes)
    except Stale:
        raise ConcurrentModification("your application changed meanwhile; send it again") from None
    if decision is Decision.APPROVED:
        _joined(affiliates, corp_id, app, now, time_zone)
    return application_view(app)


def review_application(
    affiliates: AffiliateRepository,
    corp_id: str,
    customer_id: str,
    approve: bool,
    reason: str,
    actor: str,
    now: datetime,
    *,
    time_zone: str = DEFAULT_TIME_ZONE,
) -> dict[str, Any]:
    """The merchant approves or rejects a pending application (manual review)."""
    app = affiliates.application(corp_id, customer_id)
    if app is None:
        raise NotFound(f"no application of {customer_id}", field="customer_id")
    if app["status"] != Decision.PENDING_REVIEW:
        raise Conflict(f"the application is {app['status']}, not pending review", field="status")
    status = (Decision.APPROVED if approve else Decision.REJECTED).value
    changes = {"status": status, "reason": reason, "reviewed_at": iso_utc(now), "reviewed_by": actor}
    writes: list[Change] = [ApplicationReviewed(customer_id, changes)]
    if approve:
        writes += _joining(
            affiliates, corp_id, customer_id, affiliates.settings(corp_id), app, now, time_zone
        )
    try:
        affiliates.commit(corp_id, writes)
    except Stale:
        raise Conflict("the application was reviewed meanwhile", field="status") from None
    if approve:
        _joined(affiliates, corp_id, app, now, time_zone)
    return application_view({**app, **changes})


def application_view(item: Record) -> dict[str, Any]:
    """An application as the APIs show it: mobile and ID number masked."""
    return {
        "customer_id": item["customer_id"],
        "status": item["status"],
        "reason": item.get("reason", ""),
        "answers": masked_answers(item.get("answers", {})),
        "invited_by": item.get("invited_by"),
        "submitted_at": item["submitted_at"],
        "reviewed_at": item.get("reviewed_at"),
        "reviewed_by": item.get("reviewed_by"),
    }


def applications_page(
    affiliates: AffiliateRepository, corp_id: str, status: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of applications newest first, optionally in one ``status``."""
    keep = None if status is None else (lambda item: item["status"] == status)
    page = affiliates.applications_page(corp_id, limit, cursor, keep)
    return [application_view(item) for item in page.records], page.cursor


def my_application(affiliates: AffiliateRepository, corp_id: str, customer_id: str) -> dict[str, Any] | None:
    """The customer's own application, as the APIs show it (None: they never applied)."""
    item = affiliates.application(corp_id, customer_id)
    return application_view(item) if item else None


def applications(
    affiliates: AffiliateRepository, corp_id: str, status: str | None = None
) -> list[dict[str, Any]]:
    return [
        application_view(item)
        for item in affiliates.applications(corp_id)
        if status is None or item["status"] == status
    ]
