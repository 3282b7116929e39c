"""Withdrawals: the list, and the reviewer's approve, reject, settle by hand, cancel."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from incentives.api.app import ListingCursor, RecordPageSize, cursor_checked, principal_of
from incentives.api.views.affiliates import WithdrawalPage, WithdrawalView
from incentives.core.clock import SystemClock
from incentives.runtime import wiring
from incentives.storage.affiliates import withdrawals
from incentives.storage.affiliates.withdrawals import Approval, ManualSettlement, Rejection
from routes import ADMINS, Id

router = Router()
clock = SystemClock()


@router.get("/admin/affiliates/withdrawals", summary="Withdrawals, newest first, paged", tags=["withdrawals"])
def list_withdrawals(
    affiliate_id: Annotated[str | None, Query(max_length=128)] = None,
    status: Annotated[
        str | None,
        Query(
            pattern="^(pending_review|approved|paying|awaiting_confirmation|paid|failed|cancelled|rejected)$"
        ),
    ] = None,
    limit: RecordPageSize = 50,
    cursor: ListingCursor = None,
) -> WithdrawalPage:
    principal = principal_of(router, ADMINS)
    with cursor_checked():
        page = withdrawals.listing_page(
            wiring.table(), principal.corp_id, affiliate_id, status, limit, cursor
        )
    views = withdrawals.views(page.records, wiring.payout_repository(), principal.corp_id, reviewer=True)
    items = [v for v in views if status is None or v["status"] == status]
    return {"items": items, "next_cursor": page.cursor}


@router.post("/admin/affiliates/withdrawals/<withdrawal_id>/approve", summary="Approve", tags=["withdrawals"])
def approve_withdrawal(withdrawal_id: Id, body: Approval) -> WithdrawalView:
    principal = principal_of(router, ADMINS)
    item = withdrawals.approve(
        wiring.table(),
        wiring.payout_queue(),
        principal.corp_id,
        withdrawal_id,
        body,
        principal.subject,
        clock.now(),
    )
    return withdrawals.view(item, wiring.payout_repository(), principal.corp_id, reviewer=True)


@router.post(
    "/admin/affiliates/withdrawals/<withdrawal_id>/reject", summary="Reject (releases)", tags=["withdrawals"]
)
def reject_withdrawal(withdrawal_id: Id, body: Rejection) -> WithdrawalView:
    principal = principal_of(router, ADMINS)
    item = withdrawals.reject(
        wiring.table(), principal.corp_id, withdrawal_id, body, principal.subject, clock.now()
    )
    return withdrawals.view(item, wiring.payout_repository(), principal.corp_id, reviewer=True)


@router.post(
    "/admin/affiliates/withdrawals/<withdrawal_id>/settle",
    summary="Confirm a manual transfer with its reference",
    tags=["withdrawals"],
)
def settle_withdrawal(withdrawal_id: Id, body: ManualSettlement) -> WithdrawalView:
    principal = principal_of(router, ADMINS)
    item = withdrawals.settle_manually(
        wiring.table(), principal.corp_id, withdrawal_id, body, principal.subject, clock.now()
    )
    return withdrawals.view(item, wiring.payout_repository(), principal.corp_id, reviewer=True)


@router.post(
    "/admin/affiliates/withdrawals/<withdrawal_id>/cancel",
    summary="Give up on a failed automatic payment (releases)",
    tags=["withdrawals"],
)
def cancel_withdrawal(withdrawal_id: Id) -> WithdrawalView:
    principal = principal_of(router, ADMINS)
    payouts = wiring.payout_repository()
    item = withdrawals.cancel(
        wiring.table(), payouts, principal.corp_id, withdrawal_id, principal.subject, clock.now()
    )
    return withdrawals.view(item, payouts, principal.corp_id, reviewer=True)
