"""Hourly: emit "after-sales window closed" for completed orders whose window has passed.

The schedule starts a run; the function's work queue carries it (one message per shard of the
window queue, then one per due order), so any number of due orders closes within the run
(``incentives.runtime.fanout``). The scheduled event's ``time`` is the clock, so a replayed or
hand-fired event decides "now" (``python -m infra.local fire AfterSalesWindowFunction --at ...``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from incentives.fanout.model import DueQueue
from incentives.orders.service import close_window
from incentives.runtime import wiring
from incentives.runtime.fanout import ScheduledJob, handle
from incentives.runtime.tracing import trace_handler

logger = Logger(service="after-sales-window")
metrics = Metrics()


def close(entry: dict[str, Any], as_of: datetime) -> dict[str, int]:
    emitted = close_window(wiring.event_queue(), wiring.order_repository().due_order(entry), as_of)
    if emitted:
        metrics.add_metric(name="AfterSalesWindowsClosed", unit=MetricUnit.Count, value=1)
    return {"emitted": int(emitted)}


JOB = ScheduledJob(
    work_queue="WINDOW_WORK_QUEUE_URL",
    cutoffs=lambda as_of: {DueQueue.WINDOWS: as_of},
    units={DueQueue.WINDOWS: close},
    counts=("emitted",),
)


@logger.inject_lambda_context
@trace_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(JOB, event, context)
