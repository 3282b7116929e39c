"""Every 5 minutes: resolve payouts left open (queued ones re-queued, sending ones queried) and
check transfers waiting for their payee (queried when due, cancelled past their deadline)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from incentives.payouts.service import reconcile
from incentives.runtime import wiring
from incentives.runtime.settings import settings

logger = Logger(service="payout-reconciler")
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=EventBridgeModel)
def lambda_handler(event: EventBridgeModel, context: LambdaContext) -> dict[str, Any]:
    result = reconcile(
        wiring.payout_repository(),
        wiring.payout_providers,
        wiring.payout_queue(),
        event.time,
        confirm_within=settings().transfer_confirm_within,
    )
    logger.info("payouts reconciled", extra=asdict(result))
    metrics.add_metric(name="PayoutsStillOpen", unit=MetricUnit.Count, value=result.still_open)
    return asdict(result)
