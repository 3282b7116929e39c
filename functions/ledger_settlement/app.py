"""Hourly: settle ledger credits whose hold (the after-sales window) has passed.

The schedule starts a run; the function's work queue carries it (one message per shard of the
hold queue, then one per due hold), so any number of due holds settles within the run
(``incentives.runtime.fanout``). The scheduled event's ``time`` is the clock
(``python -m infra.local fire LedgerSettlementFunction --at ...``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from incentives.fanout.model import DueQueue
from incentives.ledger.service import settle_hold
from incentives.runtime import wiring
from incentives.runtime.fanout import ScheduledJob, handle
from incentives.runtime.tracing import trace_handler

logger = Logger(service="ledger-settlement")
metrics = Metrics()


def settle(entry: dict[str, Any], as_of: datetime) -> dict[str, int]:
    ledger = wiring.ledger_repository()
    settled = settle_hold(ledger, ledger.hold_from_due(entry), as_of)
    if settled:
        metrics.add_metric(name="HoldsSettled", unit=MetricUnit.Count, value=1)
    return {"settled": int(settled)}


JOB = ScheduledJob(
    work_queue="SETTLEMENT_WORK_QUEUE_URL",
    cutoffs=lambda as_of: {DueQueue.HOLDS: as_of},
    units={DueQueue.HOLDS: settle},
    counts=("settled",),
)


@logger.inject_lambda_context
@trace_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(JOB, event, context)
