"""Affiliates: the list, one with their center, and the stores and types they may promote."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from incentives.api.app import ListingCursor, RecordPageSize, cursor_checked, principal_of
from incentives.api.views.affiliates import AffiliatePage, AffiliateProfile, AffiliateWithCenter
from incentives.core.clock import SystemClock
from incentives.runtime import wiring
from incentives.runtime.settings import settings
from incentives.storage.affiliates import center, membership
from incentives.storage.affiliates import store as affiliate_store
from incentives.storage.affiliates.membership import ProfileChange
from routes import ADMINS, Id

router = Router()
clock = SystemClock()


@router.get("/admin/affiliates", summary="Affiliates, newest first, paged", tags=["affiliates"])
def list_affiliates(limit: RecordPageSize = 50, cursor: ListingCursor = None) -> AffiliatePage:
    principal = principal_of(router, ADMINS)
    with cursor_checked():
        items, next_cursor = membership.affiliates_page(wiring.table(), principal.corp_id, limit, cursor)
    return {"items": items, "next_cursor": next_cursor}


@router.get(
    "/admin/affiliates/<affiliate_id>", summary="One affiliate, with their center", tags=["affiliates"]
)
def get_affiliate(affiliate_id: Id) -> AffiliateWithCenter:
    principal = principal_of(router, ADMINS)
    table = wiring.table()
    item = membership.require_profile(table, principal.corp_id, affiliate_id)
    figures = center.center(
        table, wiring.ledger_repository(), principal.corp_id, affiliate_id, clock.now(), settings().time_zone
    )
    program = affiliate_store.load_settings(table, principal.corp_id)
    return {**membership.profile_view(item, program), "center": figures}


@router.patch(
    "/admin/affiliates/<affiliate_id>", summary="Change promotable stores and types", tags=["affiliates"]
)
def change_affiliate(affiliate_id: Id, body: ProfileChange) -> AffiliateProfile:
    principal = principal_of(router, ADMINS)
    return membership.change_profile(wiring.table(), principal.corp_id, affiliate_id, body)
