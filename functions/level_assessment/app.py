"""Every minute: the affiliate level assessments owed, and the deal figures that came due.

Figures move with their events and owe an assessment in the same write; this job settles what
the events did not settle themselves (an ``order.paid``, within its three round trips, leaves it
to the job; a crash may leave one behind) and brings in the deal figures of orders whose
after-sales window ended. The scheduled event's ``time`` is the clock
(``python -m infra.local fire LevelAssessmentFunction --at ...``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from incentives.core.clock import iso_utc
from incentives.levels.service import run_assessment
from incentives.runtime import wiring
from incentives.runtime.settings import settings

logger = Logger(service="level-assessment")
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=EventBridgeModel)
def lambda_handler(event: EventBridgeModel, context: LambdaContext) -> dict[str, Any]:
    done = run_assessment(
        wiring.level_repository(), wiring.order_repository(), event.time, settings().time_zone
    )
    logger.info("levels assessed", extra={**done, "as_of": iso_utc(event.time)})
    metrics.add_metric(name="LevelChanges", unit=MetricUnit.Count, value=done["level_changes"])
    metrics.add_metric(name="DealFiguresDue", unit=MetricUnit.Count, value=done["deal_figures"])
    return {**done, "as_of": iso_utc(event.time)}
