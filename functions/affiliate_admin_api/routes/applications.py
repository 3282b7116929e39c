"""Applications to become an affiliate, and affiliates' applications to promote a store."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from incentives.affiliates.application import Decision
from incentives.api.app import ListingCursor, RecordPageSize, cursor_checked, principal_of
from incentives.api.views.affiliates import (
    ApplicationPage,
    ApplicationView,
    StoreApplicationPage,
    StoreApplicationView,
)
from incentives.core.clock import SystemClock
from incentives.runtime import wiring
from incentives.runtime.settings import settings
from incentives.storage.affiliates import membership
from routes import ADMINS, Id

router = Router()
clock = SystemClock()


class Review(BaseModel):
    approve: bool
    reason: str = Field(default="", max_length=200)


@router.get(
    "/admin/affiliates/applications",
    summary="Applications to become an affiliate, paged",
    tags=["applications"],
)
def list_applications(
    status: Annotated[Decision | None, Query()] = None,
    limit: RecordPageSize = 50,
    cursor: ListingCursor = None,
) -> ApplicationPage:
    principal = principal_of(router, ADMINS)
    with cursor_checked():
        items, next_cursor = membership.applications_page(
            wiring.table(), principal.corp_id, status, limit, cursor
        )
    return {"items": items, "next_cursor": next_cursor}


@router.post(
    "/admin/affiliates/applications/<customer_id>/review", summary="Approve or reject", tags=["applications"]
)
def review_application(customer_id: Id, body: Review) -> ApplicationView:
    principal = principal_of(router, ADMINS)
    return membership.review_application(
        wiring.table(),
        principal.corp_id,
        customer_id,
        body.approve,
        body.reason,
        principal.subject,
        clock.now(),
        time_zone=settings().time_zone,
    )


@router.get(
    "/admin/affiliates/store-applications",
    summary="Applications to promote a store, paged",
    tags=["applications"],
)
def list_store_applications(
    status: Annotated[Decision | None, Query()] = None,
    limit: RecordPageSize = 50,
    cursor: ListingCursor = None,
) -> StoreApplicationPage:
    principal = principal_of(router, ADMINS)
    with cursor_checked():
        items, next_cursor = membership.store_applications_page(
            wiring.table(), principal.corp_id, status, limit, cursor
        )
    return {"items": items, "next_cursor": next_cursor}


@router.post(
    "/admin/affiliates/<affiliate_id>/stores/<store_id>/review",
    summary="Approve or reject a store application",
    tags=["applications"],
)
def review_store(affiliate_id: Id, store_id: Id, body: Review) -> StoreApplicationView:
    principal = principal_of(router, ADMINS)
    return membership.review_store(
        wiring.table(),
        principal.corp_id,
        affiliate_id,
        store_id,
        body.approve,
        principal.subject,
        clock.now(),
    )
