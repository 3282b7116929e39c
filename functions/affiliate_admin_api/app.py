"""The affiliate console under /admin/affiliates: settings, affiliates, applications,
withdrawals, commission records (seed 001 微客管理, seed 003 推广员后台).

Bearer JWT with role ``admin``: affiliates belong to no department, so the program is run
by the tenant's admins (operators' scopes are department subtrees). Swagger UI:
GET /admin/affiliates/swagger.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from incentives.affiliates import center, membership, withdrawals
from incentives.affiliates import store as affiliate_store
from incentives.affiliates.application import Decision
from incentives.affiliates.center import CSV_COLUMNS, CommissionRecord, ShareState
from incentives.affiliates.commission import Role as ShareRole
from incentives.affiliates.membership import ProfileChange
from incentives.affiliates.program import ProgramSettings
from incentives.affiliates.withdrawals import Approval, ManualSettlement, Rejection
from incentives.api.app import (
    ExportFormat,
    PageCursor,
    RecordPageSize,
    create_api,
    csv_response,
    page_of,
    principal_of,
    query_instant,
)
from incentives.core.access import Role
from incentives.core.clock import SystemClock
from incentives.levels import service as levels
from incentives.levels.settings import LevelSettings
from incentives.levels.views import LevelHistory, LevelsView, history, levels_view
from incentives.runtime import wiring
from incentives.runtime.settings import settings

logger = Logger(service="affiliate-admin-api")
tracer = Tracer()
metrics = Metrics()
clock = SystemClock()
ADMINS = (Role.ADMIN,)
app = create_api(
    "admin/affiliates",
    "Incentives — affiliate console API",
    "Affiliate program settings, levels, affiliates, applications, withdrawals and commission records.",
    ADMINS,
    api_secret=wiring.api_jwt_secret,
)
Id = Annotated[str, Path(max_length=128, pattern=r"^[A-Za-z0-9_.:@\-]+$")]


class Review(BaseModel):
    approve: bool
    reason: str = Field(default="", max_length=200)


class LevelChangeInput(BaseModel):
    """The merchant sets an affiliate's level by hand, saying why."""

    rank: int = Field(ge=1, le=20, description="The level to set (1 = the default level)")
    reason: str = Field(min_length=1, max_length=200, description="Why (kept with the change)")


@app.get("/admin/affiliates/settings", summary="The program's settings", tags=["settings"])
def get_settings() -> ProgramSettings:
    principal = principal_of(app, ADMINS)
    return affiliate_store.load_settings(wiring.table(), principal.corp_id)


@app.put("/admin/affiliates/settings", summary="Replace the program's settings", tags=["settings"])
def put_settings(body: ProgramSettings) -> ProgramSettings:
    principal = principal_of(app, ADMINS)
    affiliate_store.save_settings(wiring.table(), principal.corp_id, body, clock.now())
    return body


@app.get("/admin/affiliates", summary="Affiliates, newest first", tags=["affiliates"])
def list_affiliates() -> list[dict[str, Any]]:
    principal = principal_of(app, ADMINS)
    return membership.affiliates(wiring.table(), principal.corp_id)


@app.get(
    "/admin/affiliates/applications", summary="Applications to become an affiliate", tags=["applications"]
)
def list_applications(
    status: Annotated[Decision | None, Query()] = None,
) -> list[dict[str, Any]]:
    principal = principal_of(app, ADMINS)
    return membership.applications(wiring.table(), principal.corp_id, status)


@app.post(
    "/admin/affiliates/applications/<customer_id>/review", summary="Approve or reject", tags=["applications"]
)
def review_application(customer_id: Id, body: Review) -> dict[str, Any]:
    principal = principal_of(app, ADMINS)
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


@app.get(
    "/admin/affiliates/store-applications", summary="Applications to promote a store", tags=["applications"]
)
def list_store_applications(
    status: Annotated[Decision | None, Query()] = None,
) -> list[dict[str, Any]]:
    principal = principal_of(app, ADMINS)
    return membership.store_applications(wiring.table(), principal.corp_id, status)


@app.post(
    "/admin/affiliates/<affiliate_id>/stores/<store_id>/review",
    summary="Approve or reject a store application",
    tags=["applications"],
)
def review_store(affiliate_id: Id, store_id: Id, body: Review) -> dict[str, Any]:
    principal = principal_of(app, ADMINS)
    return membership.review_store(
        wiring.table(),
        principal.corp_id,
        affiliate_id,
        store_id,
        body.approve,
        principal.subject,
        clock.now(),
    )


@app.get("/admin/affiliates/withdrawals", summary="Withdrawals, newest first", tags=["withdrawals"])
def list_withdrawals(
    affiliate_id: Annotated[str | None, Query(max_length=128)] = None,
    status: Annotated[
        str | None,
        Query(
            pattern="^(pending_review|approved|paying|awaiting_confirmation|paid|failed|cancelled|rejected)$"
        ),
    ] = None,
) -> list[dict[str, Any]]:
    principal = principal_of(app, ADMINS)
    views = [
        withdrawals.view(item, wiring.payout_repository(), principal.corp_id, reviewer=True)
        for item in withdrawals.listing(wiring.table(), principal.corp_id, affiliate_id)
    ]
    return [v for v in views if status is None or v["status"] == status]


@app.post("/admin/affiliates/withdrawals/<withdrawal_id>/approve", summary="Approve", tags=["withdrawals"])
def approve_withdrawal(withdrawal_id: Id, body: Approval) -> dict[str, Any]:
    principal = principal_of(app, ADMINS)
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


@app.post(
    "/admin/affiliates/withdrawals/<withdrawal_id>/reject", summary="Reject (releases)", tags=["withdrawals"]
)
def reject_withdrawal(withdrawal_id: Id, body: Rejection) -> dict[str, Any]:
    principal = principal_of(app, ADMINS)
    item = withdrawals.reject(
        wiring.table(), principal.corp_id, withdrawal_id, body, principal.subject, clock.now()
    )
    return withdrawals.view(item, wiring.payout_repository(), principal.corp_id, reviewer=True)


@app.post(
    "/admin/affiliates/withdrawals/<withdrawal_id>/settle",
    summary="Confirm a manual transfer with its reference",
    tags=["withdrawals"],
)
def settle_withdrawal(withdrawal_id: Id, body: ManualSettlement) -> dict[str, Any]:
    principal = principal_of(app, ADMINS)
    item = withdrawals.settle_manually(
        wiring.table(), principal.corp_id, withdrawal_id, body, principal.subject, clock.now()
    )
    return withdrawals.view(item, wiring.payout_repository(), principal.corp_id, reviewer=True)


@app.post(
    "/admin/affiliates/withdrawals/<withdrawal_id>/cancel",
    summary="Give up on a failed automatic payment (releases)",
    tags=["withdrawals"],
)
def cancel_withdrawal(withdrawal_id: Id) -> dict[str, Any]:
    principal = principal_of(app, ADMINS)
    payouts = wiring.payout_repository()
    item = withdrawals.cancel(
        wiring.table(), payouts, principal.corp_id, withdrawal_id, principal.subject, clock.now()
    )
    return withdrawals.view(item, payouts, principal.corp_id, reviewer=True)


@app.get(
    "/admin/affiliates/commissions", summary="Commission records; ?format=csv exports", tags=["commissions"]
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
) -> Response[str]:
    principal = principal_of(app, ADMINS)
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
    import json

    page, next_cursor = page_of(found, limit, cursor)
    body = {
        "items": [r.model_dump() for r in page],
        "next_cursor": next_cursor,
        "records": len(found),
        "total_commission_fen": sum(r.commission_fen for r in found),
        "total_net_fen": sum(r.net_fen for r in found),
    }
    return Response(200, "application/json", json.dumps(body, ensure_ascii=False))


@app.get("/admin/affiliates/levels", summary="The levels, with their member counts", tags=["levels"])
def get_levels() -> LevelsView:
    principal = principal_of(app, ADMINS)
    return levels_view(wiring.level_repository(), principal.corp_id)


@app.put(
    "/admin/affiliates/levels",
    summary="Replace the levels (the next rule version); a level with members cannot be removed",
    tags=["levels"],
)
def put_levels(body: LevelSettings) -> LevelsView:
    principal = principal_of(app, ADMINS)
    levels.save_settings(wiring.level_repository(), principal.corp_id, body, clock.now())
    return levels_view(wiring.level_repository(), principal.corp_id)


@app.patch(
    "/admin/affiliates/<affiliate_id>/level",
    summary="Set an affiliate's level, with a reason",
    tags=["levels"],
)
def change_level(affiliate_id: Id, body: LevelChangeInput) -> LevelHistory:
    principal = principal_of(app, ADMINS)
    membership.require_profile(wiring.table(), principal.corp_id, affiliate_id)
    repository = wiring.level_repository()
    levels.change_by_hand(
        repository, principal.corp_id, affiliate_id, body.rank, body.reason, principal.subject, clock.now()
    )
    return history(repository, principal.corp_id, affiliate_id, for_affiliate=False)


@app.get(
    "/admin/affiliates/<affiliate_id>/level-history",
    summary="An affiliate's level and every change of it, each with why",
    tags=["levels"],
)
def level_history(affiliate_id: Id) -> LevelHistory:
    principal = principal_of(app, ADMINS)
    membership.require_profile(wiring.table(), principal.corp_id, affiliate_id)
    return history(wiring.level_repository(), principal.corp_id, affiliate_id, for_affiliate=False)


@app.get("/admin/affiliates/<affiliate_id>", summary="One affiliate, with their center", tags=["affiliates"])
def get_affiliate(affiliate_id: Id) -> dict[str, Any]:
    principal = principal_of(app, ADMINS)
    table = wiring.table()
    item = membership.require_profile(table, principal.corp_id, affiliate_id)

    figures = center.center(
        table, wiring.ledger_repository(), principal.corp_id, affiliate_id, clock.now(), settings().time_zone
    )
    program = affiliate_store.load_settings(table, principal.corp_id)
    return {**membership.profile_view(item, program), "center": figures.model_dump()}


@app.patch(
    "/admin/affiliates/<affiliate_id>", summary="Change promotable stores and types", tags=["affiliates"]
)
def change_affiliate(affiliate_id: Id, body: ProfileChange) -> dict[str, Any]:
    principal = principal_of(app, ADMINS)
    return membership.change_profile(wiring.table(), principal.corp_id, affiliate_id, body)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
