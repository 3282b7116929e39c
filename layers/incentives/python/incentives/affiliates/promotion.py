"""Which stores an affiliate promotes (seed 001 §2.1.2 推广设置): under ``applied`` an affiliate
asks for a store and the merchant approves or rejects it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from incentives.affiliates.application import Decision
from incentives.affiliates.ports import (
    AffiliateRepository,
    Change,
    ProfileChanged,
    Record,
    Stale,
    StoreApplied,
    StoreReviewed,
)
from incentives.affiliates.profiles import approved_stores, promotable_stores, require_profile
from incentives.core.clock import iso_utc
from incentives.core.errors import ConcurrentModification, Conflict, NotFound


def apply_for_store(
    affiliates: AffiliateRepository, corp_id: str, affiliate_id: str, store_id: str, now: datetime
) -> dict[str, Any]:
    """Ask to promote a store (promotable stores ``applied``); the merchant reviews it."""
    item = require_profile(affiliates, corp_id, affiliate_id)
    stores = promotable_stores(item, affiliates.settings(corp_id))
    if stores is None or store_id in stores:
        raise Conflict(f"you may promote store {store_id} already", field="store_id")
    found = affiliates.store_application(corp_id, affiliate_id, store_id)
    if found is not None and found["status"] == Decision.PENDING_REVIEW:
        return _store_view(found)
    application = {
        "affiliate_id": affiliate_id,
        "store_id": store_id,
        "status": Decision.PENDING_REVIEW.value,
        "submitted_at": iso_utc(now),
    }
    affiliates.commit(corp_id, [StoreApplied(application)])
    return _store_view(application)


def review_store(
    affiliates: AffiliateRepository,
    corp_id: str,
    affiliate_id: str,
    store_id: str,
    approve: bool,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    found = affiliates.store_application(corp_id, affiliate_id, store_id)
    if found is None:
        raise NotFound(f"no application of {affiliate_id} for store {store_id}", field="store_id")
    if found["status"] != Decision.PENDING_REVIEW:
        raise Conflict(f"the store application is {found['status']}", field="status")
    changes = {
        "status": (Decision.APPROVED if approve else Decision.REJECTED).value,
        "reviewed_at": iso_utc(now),
        "reviewed_by": actor,
    }
    writes: list[Change] = [StoreReviewed(affiliate_id, store_id, changes)]
    if approve:
        item = require_profile(affiliates, corp_id, affiliate_id)
        stores = sorted({*approved_stores(item), store_id})
        writes.append(ProfileChanged(affiliate_id, int(item["version"]), {"approved_stores": stores}))
    try:
        affiliates.commit(corp_id, writes)
    except Stale:
        raise ConcurrentModification("the affiliate changed meanwhile; review again") from None
    return _store_view({**found, **changes})


def _store_view(item: Record) -> dict[str, Any]:
    return {k: item.get(k) for k in ("affiliate_id", "store_id", "status", "submitted_at", "reviewed_at")}


def store_applications_page(
    affiliates: AffiliateRepository, corp_id: str, status: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of applications to promote a store, newest first, optionally in one ``status``."""
    keep = None if status is None else (lambda item: item["status"] == status)
    page = affiliates.store_applications_page(corp_id, limit, cursor, keep)
    return [_store_view(item) for item in page.records], page.cursor


def store_applications(
    affiliates: AffiliateRepository, corp_id: str, status: str | None = None
) -> list[dict[str, Any]]:
    return [
        _store_view(item)
        for item in affiliates.store_applications(corp_id)
        if status is None or item["status"] == status
    ]
