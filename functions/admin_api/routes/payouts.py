"""Payouts: list (in the caller's scope), one with its history, re-queue a failed one."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from incentives.api.app import principal_of
from incentives.api.scope import CONSOLE, NodeChoice, authorize_write
from incentives.core.access import Principal
from incentives.core.clock import SystemClock
from incentives.core.errors import InvalidInput, NotFound
from incentives.payouts import actions
from incentives.payouts.model import Payout, PayoutStatus
from incentives.payouts.views import PayoutPage, PayoutView
from incentives.runtime import wiring

router = Router()
logger = Logger(service="admin-api", child=True)
clock = SystemClock()


def _visible(principal: Principal, payout: Payout | None, payout_id: str) -> Payout:
    """A payout the caller may see; others are reported as not found (their existence is not leaked)."""
    if payout is None or not principal.sees_department_path(payout.payee.dept_path):
        raise NotFound(f"no payout {payout_id}", field="payout_id")
    return payout


@router.get("/admin/payouts", summary="List payouts, newest first", tags=["payouts"])
def list_payouts(
    status: Annotated[PayoutStatus | None, Query(description="Only payouts in this state")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size")] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> PayoutPage:
    principal = principal_of(router, CONSOLE)
    try:
        payouts, next_cursor = wiring.payout_repository().page(
            principal.corp_id,
            status,
            limit,
            cursor,
            keep=lambda payout: principal.sees_department_path(payout.payee.dept_path),
        )
    except ValueError as error:
        raise InvalidInput(str(error), field="cursor") from None
    return PayoutPage(items=[PayoutView.of(p) for p in payouts], next_cursor=next_cursor)


@router.get("/admin/payouts/<payout_id>", summary="One payout with its history", tags=["payouts"])
def get_payout(payout_id: Annotated[str, Path(max_length=32)]) -> PayoutView:
    principal = principal_of(router, CONSOLE)
    payout = wiring.payout_repository().get(principal.corp_id, payout_id)
    return PayoutView.of(_visible(principal, payout, payout_id))


@router.post(
    "/admin/payouts/<payout_id>/requeue", summary="Send a failed payout again (same id)", tags=["payouts"]
)
def requeue_payout(
    payout_id: Annotated[str, Path(max_length=32)], request: NodeChoice | None = None
) -> PayoutView:
    def payee_path(principal: Principal) -> tuple[str, ...]:
        payout = wiring.payout_repository().get(principal.corp_id, payout_id)
        return _visible(principal, payout, payout_id).payee.dept_path

    principal = authorize_write(
        router, wiring.table(), request.data_node if request else None, payee_path
    ).principal
    payout = actions.requeue(
        wiring.payout_repository(),
        wiring.payout_queue(),
        principal.corp_id,
        payout_id,
        clock.now(),
        actor=f"{principal.role.value}:{principal.subject}",
    )
    logger.info("payout re-queued", extra={"payout_id": payout_id, "by": principal.subject})
    return PayoutView.of(payout)
