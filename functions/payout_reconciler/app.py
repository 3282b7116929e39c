"""Every 5 minutes: resolve payouts left open (queued ones re-queued, sending ones queried) and
check transfers waiting for their payee (queried when due, cancelled past their deadline).

The schedule starts a run; the function's work queue carries it (one message per shard of both
payout queues, then one per due payout), so any number of open payouts is looked at within the
run (``incentives.runtime.fanout``). The scheduled event's ``time`` is the clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from incentives.fanout.model import DueQueue
from incentives.payouts.reconciler import STALE_AFTER, check_waiting_payout, reconcile_open_payout
from incentives.runtime import wiring
from incentives.runtime.fanout import ScheduledJob, handle
from incentives.runtime.settings import settings
from incentives.runtime.tracing import trace_handler

logger = Logger(service="payout-reconciler")
metrics = Metrics()
COUNTS = ("requeued", "resolved", "still_open", "cancel_requested")


def _counted(outcome: str, payout_id: str) -> dict[str, int]:
    logger.info("payout reconciled", extra={"payout_id": payout_id, "outcome": outcome})
    if outcome == "still_open":
        metrics.add_metric(name="PayoutsStillOpen", unit=MetricUnit.Count, value=1)
    return {name: int(name == outcome) for name in COUNTS}


def reconcile_open(entry: dict[str, Any], as_of: datetime) -> dict[str, int]:
    repository = wiring.payout_repository()
    corp_id, payout_id = repository.due_payout(entry)
    payout = repository.get(corp_id, payout_id)
    if payout is None or not payout.reconcilable(as_of - STALE_AFTER):
        return {}  # moved on since it was found: nothing to do
    outcome = reconcile_open_payout(
        repository,
        wiring.payout_providers(corp_id),
        wiring.payout_queue(),
        payout,
        as_of,
        settings().transfer_confirm_within,
    )
    return _counted(outcome, payout_id)


def check_waiting(entry: dict[str, Any], as_of: datetime) -> dict[str, int]:
    repository = wiring.payout_repository()
    corp_id, payout_id = repository.due_payout(entry)
    payout = repository.get(corp_id, payout_id)
    if payout is None or not payout.check_due(as_of):
        return {}
    return _counted(
        check_waiting_payout(repository, wiring.payout_providers(corp_id), payout, as_of), payout_id
    )


JOB = ScheduledJob(
    work_queue="RECONCILER_WORK_QUEUE_URL",
    cutoffs=lambda as_of: {DueQueue.OPEN_PAYOUTS: as_of - STALE_AFTER, DueQueue.WAITING_PAYOUTS: as_of},
    units={DueQueue.OPEN_PAYOUTS: reconcile_open, DueQueue.WAITING_PAYOUTS: check_waiting},
    counts=COUNTS,
)


@logger.inject_lambda_context
@trace_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(JOB, event, context)
