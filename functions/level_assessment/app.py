"""Every minute: the affiliate level assessments owed, and the deal figures that came due.

Figures move with their events and owe an assessment in the same write; this job settles what
the events did not settle themselves (an ``order.paid``, within its three round trips, leaves it
to the job; a crash may leave one behind; a time-driven check comes due) and brings in the deal
figures of orders whose after-sales window ended, assessing the affiliates they moved. The
schedule starts a run; the function's work queue carries it (one message per shard of both
queues, then one per due affiliate or order), so any number due is done within the run
(``incentives.runtime.fanout``). The scheduled event's ``time`` is the clock
(``python -m infra.local fire LevelAssessmentFunction --at ...``).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from incentives.fanout.model import DueQueue
from incentives.fanout.service import Then
from incentives.levels.service import RELEVEL_PAGE, assess_due_affiliate, bring_in_deal, relevel_page
from incentives.runtime import wiring
from incentives.runtime.fanout import ScheduledJob, handle
from incentives.runtime.settings import settings
from incentives.runtime.tracing import trace_handler

logger = Logger(service="level-assessment")
metrics = Metrics()


def _counted(done: dict[str, int]) -> dict[str, int]:
    if done.get("level_changes"):
        metrics.add_metric(name="LevelChanges", unit=MetricUnit.Count, value=done["level_changes"])
    if done.get("deal_figures"):
        metrics.add_metric(name="DealFiguresDue", unit=MetricUnit.Count, value=done["deal_figures"])
    return done


def assess(entry: dict[str, Any], as_of: datetime) -> dict[str, int]:
    levels = wiring.level_repository()
    return _counted(assess_due_affiliate(levels, levels.due_affiliate(entry), as_of, settings().time_zone))


def deal(entry: dict[str, Any], as_of: datetime) -> dict[str, int]:
    levels = wiring.level_repository()
    due = levels.due_source(entry)
    return _counted(bring_in_deal(levels, wiring.order_repository(), due, as_of, settings().time_zone))


def relevel(entry: dict[str, Any], as_of: datetime) -> Then:
    """One page of a tenant's re-levelling job; its affiliates and the next page go on the queue."""
    levels = wiring.level_repository()
    step = levels.due_relevel(entry)
    corp_id = step.corp_id if step else str(entry["corp_id"])
    page = relevel_page(
        levels, step, corp_id, as_of, int(os.environ.get("LEVEL_RELEVEL_PAGE_SIZE", RELEVEL_PAGE))
    )
    if page is None:
        return Then({"relevel_pages": 0, "relevel_marked": 0})
    # the next page first, so the job goes on while this page's affiliates are assessed
    work = [(DueQueue.LEVEL_RELEVELS, levels.relevel_entry(page.next))] if page.next else []
    work += [(DueQueue.LEVEL_ASSESSMENTS, levels.assessment_entry(corp_id, a)) for a in page.marked]
    if page.marked:
        metrics.add_metric(name="RelevelMarked", unit=MetricUnit.Count, value=len(page.marked))
    return Then({"relevel_pages": 1, "relevel_marked": len(page.marked)}, work)


JOB = ScheduledJob(
    work_queue="ASSESSMENT_WORK_QUEUE_URL",
    cutoffs=lambda as_of: {
        DueQueue.LEVEL_RELEVELS: as_of,
        DueQueue.LEVEL_DEALS: as_of,
        DueQueue.LEVEL_ASSESSMENTS: as_of,
    },
    units={DueQueue.LEVEL_RELEVELS: relevel, DueQueue.LEVEL_DEALS: deal, DueQueue.LEVEL_ASSESSMENTS: assess},
    counts=("relevel_pages", "relevel_marked", "deal_figures", "level_changes"),
)


@logger.inject_lambda_context
@trace_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(JOB, event, context)
