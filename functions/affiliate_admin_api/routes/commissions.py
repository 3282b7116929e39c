"""Commission records, paged with their totals or exported as CSV."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from incentives.affiliates.commission import Role as ShareRole
from incentives.api.app import (
    ExportFormat,
    ListingCursor,
    RecordPageSize,
    csv_response,
    cursor_checked,
    principal_of,
    query_instant,
)
from incentives.api.views.affiliates import CommissionPage
from incentives.runtime import wiring
from incentives.storage.affiliates import center
from incentives.storage.affiliates.center import CSV_COLUMNS, RecordFilter, ShareState
from incentives.storage.table import Table
from routes import ADMINS

router = Router()
EXPORT_PAGE = 500
"""Records read a round of the export: what the function holds at once, whatever the tenant's size."""
CSV_OR_JSON = {
    200: {
        "description": "A page and the maintained totals (JSON), or every match (?format=csv, by pages)",
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
    cursor: ListingCursor = None,
) -> Response[CommissionPage | str]:
    principal = principal_of(router, ADMINS)
    table, corp_id = wiring.table(), principal.corp_id
    matching = RecordFilter(
        beneficiary_id=affiliate_id,
        role=role,
        state=state,
        store_id=store_id,
        since=query_instant(since, "from"),
        until=query_instant(until, "to"),
    )
    if format == "csv":
        return csv_response(_every_record(table, corp_id, matching), CSV_COLUMNS, "affiliate-commissions.csv")
    with cursor_checked():
        page, next_cursor = center.commission_page(table, corp_id, matching, limit, cursor)
    totals = center.commission_totals(table, corp_id, matching)
    return Response(200, "application/json", CommissionPage.of(page, next_cursor, totals))


def _every_record(table: Table, corp_id: str, matching: RecordFilter) -> Iterator[dict[str, Any]]:
    """Every match for the export, read page by page through the index (one page in memory)."""
    cursor: str | None = None
    while True:
        page, cursor = center.commission_page(table, corp_id, matching, EXPORT_PAGE, cursor)
        yield from (row.model_dump() for row in page)
        if cursor is None:
            return
