"""Inbound events queue → the domain (SQS, partial batch failures).

Each record is applied exactly once in effect by its consumer; a record that fails is
reported alone and retried by SQS, then lands in the dead-letter queue after 5 receives.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from incentives.events.claim_check import read_message
from incentives.events.dispatch import apply_queued_event
from incentives.runtime import wiring
from incentives.runtime.tracing import trace_handler, trace_method

logger = Logger(service="event-processor")
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)


@trace_method
def apply_record(record: SQSRecord) -> str:
    queued = read_message(record.body, wiring.body_chunk_store())
    outcome = apply_queued_event(queued, wiring.consumers())
    logger.info(
        "event applied",
        extra={"event_id": outcome.event_id, "type": outcome.event_type, "consumer": outcome.consumer},
    )
    metrics.add_metric(name="EventApplied", unit=MetricUnit.Count, value=1)
    return outcome.detail


@logger.inject_lambda_context
@trace_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=apply_record, processor=processor, context=context
    )
