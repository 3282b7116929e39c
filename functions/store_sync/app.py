"""WeChat Store orders → our order events.

Two triggers: the store-work queue (one message per push: read the order with ``order/get``,
emit what is new) with partial batch failures, and a schedule every 10 minutes that reads
again the provisional orders (解析中) whose re-read is due.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from incentives.core.clock import SystemClock
from incentives.runtime import wechat_store as store
from incentives.runtime.tracing import trace_handler, trace_method
from incentives.wechat_store.sync import reread_due_orders, sync_order

logger = Logger(service="wechat-store-sync")
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)
clock = SystemClock()


@trace_method
def sync_record(record: SQSRecord) -> list[str]:
    work = json.loads(record.body)
    result = sync_order(
        store.sync_ports(),
        str(work["corp_id"]),
        str(work["order_id"]),
        clock.now(),
        after_sale_order_id=work.get("after_sale_order_id") or None,
        reason=f"message push {work.get('event', '')}".strip(),
    )
    logger.info("store order synced", extra={"corp_id": work["corp_id"], **vars(result)})
    metrics.add_metric(name="WeChatStoreEventsEmitted", unit=MetricUnit.Count, value=len(result.emitted))
    return result.emitted


@logger.inject_lambda_context
@trace_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:
        return process_partial_response(
            event=event, record_handler=sync_record, processor=processor, context=context
        )
    schedule = EventBridgeModel.model_validate(event)
    outcome = reread_due_orders(store.sync_ports(), schedule.time)
    logger.info("provisional orders read again", extra=outcome)
    metrics.add_metric(name="WeChatStoreRereads", unit=MetricUnit.Count, value=outcome["reread"])
    metrics.add_metric(name="WeChatStoreRereadFailures", unit=MetricUnit.Count, value=outcome["failed"])
    return outcome
