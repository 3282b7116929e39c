"""Commission records, paged with their totals or exported as CSV."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from incentives.affiliates.commission import Role as ShareRole
from incentives.api.app import (
    ExportFormat,
    PageCursor,
    RecordPageSize,
    csv_response,
    page_of,
    principal_of,
    query_instant,
)
from incentives.api.views.affiliates import CommissionPage
from incentives.runtime import wiring
from incentives.storage.affiliates import center
from incentives.storage.affiliates.center import CSV_COLUMNS, CommissionRecord, ShareState
from routes import ADMINS

router = Router()
CSV_OR_JSON = {
    200: {
        "description": "A page with the totals of every match (JSON), or every match (?format=csv)",
        "content": {
            "application/json": {"model": CommissionPage},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


@router.get(
    "/admin/affiliates/commissions",
    summary="Commission records; ?format=csv exports",
    tags=["commissions"],
    responses=CSV_OR_JSON,
)
def commission_records(
    affiliate_id: Annotated[str | None, Query(max_length=128, description="The beneficiary")] = None,
    role: Annotated[ShareRole | None, Query()] = None,
    state: Annotated[ShareState | None, Query()] = None,
    store_id: Annotated[str | None, Query(max_length=128)] = None,
    since: Annotated[str | None, Query(alias="from", description="RFC 3339, paid at or after")] = None,
    until: Annotated[str | None, Query(alias="to", description="RFC 3339, paid at or before")] = None,
    format: ExportFormat = None,
    limit: RecordPageSize = 50,
    cursor: PageCursor = None,
) -> Response[CommissionPage | str]:
    principal = principal_of(router, ADMINS)
    found: list[CommissionRecord] = center.commission_records(
        wiring.table(),
        principal.corp_id,
        beneficiary_id=affiliate_id,
        role=role,
        state=state,
        store_id=store_id,
        since=query_instant(since, "from"),
        until=query_instant(until, "to"),
    )
    if format == "csv":
        return csv_response((r.model_dump() for r in found), CSV_COLUMNS, "affiliate-commissions.csv")
    page, next_cursor = page_of(found, limit, cursor)
    return Response(200, "application/json", CommissionPage.of(page, next_cursor, found))
