"""Payout queue → provider (SQS, partial batch failures).

One attempt per message; an unresolved attempt fails the record so SQS retries it with the
same payout id. On the last receive the payout is marked failed before the message goes to
the dead-letter queue. A duplicate message is told apart by the payout's own item (its status,
generation and version; docs/decisions.md), not by a separate idempotency record.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from incentives.core.clock import SystemClock
from incentives.payouts import pipeline
from incentives.runtime import wiring
from incentives.runtime.settings import settings
from incentives.runtime.tracing import trace_handler, trace_method
from incentives.storage.payout_queue import PayoutMessage

logger = Logger(service="payout-worker")
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)
clock = SystemClock()


def attempt(message: PayoutMessage, final_attempt: bool) -> dict[str, Any]:
    payout = pipeline.process_payout(
        wiring.payout_repository(),
        wiring.payout_providers(message.corp_id),
        message.corp_id,
        message.payout_id,
        message.generation,
        clock.now(),
        final_attempt=final_attempt,
        confirm_within=settings().transfer_confirm_within,
    )
    return {"payout_id": payout.payout_id, "status": payout.status.value}


@trace_method
def handle_record(record: SQSRecord) -> dict[str, Any]:
    message = PayoutMessage.model_validate_json(record.body)
    final = int(record.attributes.approximate_receive_count or 1) >= settings().payout_max_receives
    try:
        outcome = attempt(message, final_attempt=final)
    except Exception as error:
        logger.warning(
            "payout attempt unresolved",
            extra={"payout_id": message.payout_id, "error": str(error), "final_attempt": final},
        )
        raise
    logger.info("payout attempt", extra=outcome)
    metrics.add_metric(name=f"Payout{outcome['status'].title()}", unit=MetricUnit.Count, value=1)
    return outcome


@logger.inject_lambda_context
@trace_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
