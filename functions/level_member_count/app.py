"""Every 2 hours: count the affiliates of each level (seed 001 §2.3.2: 微客数2小时更新一次).

Counts are kept exactly as levels change (sharded counters); this job takes the snapshot the
console shows, for the tenants whose count is due.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from incentives.core.clock import iso_utc
from incentives.levels.service import refresh_member_counts
from incentives.runtime import wiring
from incentives.runtime.tracing import trace_handler

logger = Logger(service="level-member-count")
metrics = Metrics()


@logger.inject_lambda_context
@trace_handler
@metrics.log_metrics
@event_parser(model=EventBridgeModel)
def lambda_handler(event: EventBridgeModel, context: LambdaContext) -> dict[str, Any]:
    counted = refresh_member_counts(wiring.level_repository(), event.time)
    logger.info("level members counted", extra={"tenants": counted, "as_of": iso_utc(event.time)})
    metrics.add_metric(name="LevelTenantsCounted", unit=MetricUnit.Count, value=counted)
    return {"tenants": counted, "as_of": iso_utc(event.time)}
