"""Hourly: settle ledger credits whose hold (the after-sales window) has passed."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from incentives.core.clock import iso_utc
from incentives.ledger.service import settle_holds_past
from incentives.runtime import wiring

logger = Logger(service="ledger-settlement")
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=EventBridgeModel)
def lambda_handler(event: EventBridgeModel, context: LambdaContext) -> dict[str, Any]:
    settled = settle_holds_past(wiring.ledger_repository(), event.time)
    logger.info("holds settled", extra={"settled": settled, "as_of": iso_utc(event.time)})
    metrics.add_metric(name="HoldsSettled", unit=MetricUnit.Count, value=settled)
    return {"settled": settled, "as_of": iso_utc(event.time)}
