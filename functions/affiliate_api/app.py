"""The distribution center API under /affiliate (seed 001 §四, seed 003 推广中心).

Bearer JWT with role ``affiliate``; ``sub`` is the customer's unionid. A customer applies
with such a token before being an affiliate; every other route needs an active affiliate
and shows only their own data. Mobiles and ID numbers are masked in every answer.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from incentives.affiliates.commission import Role as ShareRole
from incentives.api.app import (
    ListingCursor,
    RecordPageSize,
    create_api,
    cursor_checked,
    list_page,
    listed,
    principal_of,
    query_instant,
)
from incentives.api.views.affiliates import (
    ApplicationView,
    BoundCustomer,
    DownlineMember,
    ProgramForApplicants,
    StoreApplicationView,
    WithdrawalView,
)
from incentives.core.access import Principal, Role
from incentives.core.clock import SystemClock
from incentives.core.errors import NotFound
from incentives.levels.views import LevelHistory, MyLevel, history, my_level
from incentives.runtime import wiring
from incentives.runtime.settings import settings
from incentives.runtime.tracing import trace_handler
from incentives.storage.affiliates import center, membership, withdrawals
from incentives.storage.affiliates import store as affiliate_store
from incentives.storage.affiliates.center import Center, CommissionRecord, RecordFilter, ShareState
from incentives.storage.affiliates.membership import ApplicationInput
from incentives.storage.affiliates.referrals import customers_of
from incentives.storage.affiliates.withdrawals import WithdrawalInput

logger = Logger(service="affiliate-api")
metrics = Metrics()
clock = SystemClock()
AFFILIATES = (Role.AFFILIATE,)
app = create_api(
    "affiliate",
    "Incentives — distribution center API",
    "An affiliate's figures, level, customers, orders, withdrawals.",
    AFFILIATES,
    api_secret=wiring.api_jwt_secret,
)


def _affiliate() -> Principal:
    principal = principal_of(app, AFFILIATES)
    membership.require_profile(wiring.table(), principal.corp_id, principal.subject)
    return principal


@app.get("/affiliate/program", summary="The program as an applicant sees it", tags=["applying"])
def program() -> ProgramForApplicants:
    principal = principal_of(app, AFFILIATES)
    current = affiliate_store.load_settings(wiring.table(), principal.corp_id)
    eligibility = membership.eligibility(wiring.table(), principal.corp_id, principal.subject, current)
    return ProgramForApplicants.of(current, eligibility)


@app.post("/affiliate/application", summary="Apply to become an affiliate", tags=["applying"])
def apply(body: ApplicationInput) -> ApplicationView:
    principal = principal_of(app, AFFILIATES)
    return membership.submit_application(
        wiring.table(),
        principal.corp_id,
        principal.subject,
        body,
        clock.now(),
        time_zone=settings().time_zone,
        signed_openid=principal.openid,
    )


@app.get("/affiliate/application", summary="My application and its review", tags=["applying"])
def my_application() -> ApplicationView:
    principal = principal_of(app, AFFILIATES)
    found = membership.my_application(wiring.table(), principal.corp_id, principal.subject)
    if found is None:
        raise NotFound("you have not applied", field="customer_id")
    return found


@app.get("/affiliate/center", summary="My figures (seed 001 §四.2) and promotion figures", tags=["center"])
def my_center() -> Center:
    principal = _affiliate()
    return center.center(
        wiring.table(),
        wiring.ledger_repository(),
        principal.corp_id,
        principal.subject,
        clock.now(),
        settings().time_zone,
    )


@app.get(
    "/affiliate/level",
    summary="My level, its rate, and what I still need for each level above",
    tags=["level"],
)
def my_level_now() -> MyLevel:
    principal = _affiliate()
    program = affiliate_store.load_settings(wiring.table(), principal.corp_id)
    return my_level(
        wiring.level_repository(),
        principal.corp_id,
        principal.subject,
        program.commission_rate_bp,
        clock.now(),
        settings().time_zone,
    )


@app.get("/affiliate/level/history", summary="Every change of my level, each with why", tags=["level"])
def my_level_history() -> LevelHistory:
    principal = _affiliate()
    return history(wiring.level_repository(), principal.corp_id, principal.subject, for_affiliate=True)


@app.get("/affiliate/customers", summary="Customers bound to me now", tags=["center"])
def my_customers() -> list[BoundCustomer]:
    principal = _affiliate()
    return customers_of(wiring.table(), principal.corp_id, principal.subject, clock.now())


@app.get("/affiliate/downline", summary="Affiliates I invited", tags=["center"])
def my_downline() -> list[DownlineMember]:
    principal = _affiliate()
    return center.downline(wiring.table(), principal.corp_id, principal.subject)


@app.get(
    "/affiliate/orders",
    summary="My commission orders, each with its commission and state, newest first, paged",
    tags=["center"],
    responses=listed(list[CommissionRecord]),
)
def my_orders(
    role: Annotated[ShareRole | None, Query()] = None,
    state: Annotated[ShareState | None, Query()] = None,
    paid_from: Annotated[str | None, Query(description="RFC 3339")] = None,
    paid_to: Annotated[str | None, Query(description="RFC 3339")] = None,
    limit: RecordPageSize = 50,
    cursor: ListingCursor = None,
) -> Response[list[CommissionRecord]]:
    principal = _affiliate()
    matching = RecordFilter(
        role=role,
        state=state,
        since=query_instant(paid_from, "paid_from"),
        until=query_instant(paid_to, "paid_to"),
    )
    with cursor_checked():
        page, next_cursor = center.my_commission_page(
            wiring.table(), principal.corp_id, principal.subject, matching, limit, cursor
        )
    return list_page(page, next_cursor)


@app.post("/affiliate/stores/<store_id>/application", summary="Ask to promote a store", tags=["promotion"])
def apply_for_store(
    store_id: Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_.:@\-]+$")],
) -> StoreApplicationView:
    principal = _affiliate()
    return membership.apply_for_store(
        wiring.table(), principal.corp_id, principal.subject, store_id, clock.now()
    )


@app.get(
    "/affiliate/withdrawals",
    summary="My withdrawals, newest first, paged",
    tags=["withdrawals"],
    responses=listed(list[WithdrawalView]),
)
def my_withdrawals(
    limit: RecordPageSize = 50, cursor: ListingCursor = None
) -> Response[list[WithdrawalView]]:
    principal = _affiliate()
    with cursor_checked():
        page = withdrawals.listing_page(
            wiring.table(), principal.corp_id, principal.subject, None, limit, cursor
        )
    return list_page(
        withdrawals.views(page.records, wiring.payout_repository(), principal.corp_id), page.cursor
    )


@app.post("/affiliate/withdrawals", summary="Withdraw settled commission", tags=["withdrawals"])
def withdraw(body: WithdrawalInput) -> WithdrawalView:
    principal = _affiliate()
    item = withdrawals.request(
        wiring.table(), wiring.ledger_repository(), principal.corp_id, principal.subject, body, clock.now()
    )
    return withdrawals.view(item, wiring.payout_repository(), principal.corp_id)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@trace_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
