"""Hourly: emit "after-sales window closed" for completed orders whose window has passed.

The scheduled event's ``time`` is the clock, so a replayed or hand-fired event decides
"now" (``python -m infra.local fire AfterSalesWindowFunction --at ...``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from incentives.core.clock import iso_utc
from incentives.orders.service import emit_window_closed_events
from incentives.runtime import wiring

logger = Logger(service="after-sales-window")
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=EventBridgeModel)
def lambda_handler(event: EventBridgeModel, context: LambdaContext) -> dict[str, Any]:
    emitted = emit_window_closed_events(wiring.order_repository(), wiring.event_queue(), event.time)
    logger.info("after-sales windows closed", extra={"emitted": emitted, "as_of": iso_utc(event.time)})
    metrics.add_metric(name="AfterSalesWindowsClosed", unit=MetricUnit.Count, value=emitted)
    return {"emitted": emitted, "as_of": iso_utc(event.time)}
