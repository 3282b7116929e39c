"""Operator console API under /admin (SPEC §3.3): payouts for now.

Bearer JWT (admin or operator); operators see only payouts of their departments' subtrees.
OpenAPI document and Swagger UI: GET /admin/swagger (``?format=json`` for the document).
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from incentives.api.app import create_api, principal_of
from incentives.api.auth import Principal, Role
from incentives.core.clock import SystemClock
from incentives.core.errors import InvalidInput, NotFound
from incentives.payouts import service
from incentives.payouts.model import Payout, PayoutStatus
from incentives.payouts.views import PayoutPage, PayoutView
from incentives.runtime import wiring

logger = Logger(service="admin-api")
tracer = Tracer()
metrics = Metrics()
clock = SystemClock()
app = create_api("admin", "Incentives — operator console API", "Payouts, rewards and settings of a tenant.")
OPERATORS = (Role.ADMIN, Role.OPERATOR)


def _visible(principal: Principal, payout: Payout | None, payout_id: str) -> Payout:
    """A payout the caller may see; others are reported as not found (their existence is not leaked)."""
    if payout is None or not principal.sees_department_path(payout.payee.dept_path):
        raise NotFound(f"no payout {payout_id}", field="payout_id")
    return payout


@app.get("/admin/payouts", summary="List payouts, newest first", tags=["payouts"])
def list_payouts(
    status: Annotated[PayoutStatus | None, Query(description="Only payouts in this state")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size")] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> PayoutPage:
    principal = principal_of(app, OPERATORS)
    try:
        payouts, next_cursor = wiring.payout_repository().page(principal.corp_id, status, limit, cursor)
    except ValueError as error:
        raise InvalidInput(str(error), field="cursor") from None
    visible = [PayoutView.of(p) for p in payouts if principal.sees_department_path(p.payee.dept_path)]
    return PayoutPage(items=visible, next_cursor=next_cursor)


@app.get("/admin/payouts/<payout_id>", summary="One payout with its history", tags=["payouts"])
def get_payout(payout_id: Annotated[str, Path(max_length=32)]) -> PayoutView:
    principal = principal_of(app, OPERATORS)
    payout = wiring.payout_repository().get(principal.corp_id, payout_id)
    return PayoutView.of(_visible(principal, payout, payout_id))


@app.post(
    "/admin/payouts/<payout_id>/requeue", summary="Send a failed payout again (same id)", tags=["payouts"]
)
def requeue_payout(payout_id: Annotated[str, Path(max_length=32)]) -> PayoutView:
    principal = principal_of(app, OPERATORS)
    _visible(principal, wiring.payout_repository().get(principal.corp_id, payout_id), payout_id)
    payout = service.requeue(
        wiring.payout_repository(),
        wiring.payout_queue(),
        principal.corp_id,
        payout_id,
        clock.now(),
        actor=f"{principal.role.value}:{principal.subject}",
    )
    logger.info("payout re-queued", extra={"payout_id": payout_id, "by": principal.subject})
    return PayoutView.of(payout)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
