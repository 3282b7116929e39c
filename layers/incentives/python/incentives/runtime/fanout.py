"""A scheduled job's Lambda handler: its schedule starts a run, its work queue carries the run.

Each job function has two triggers in template.yaml: an EventBridge schedule and its own SQS work
queue (with a dead-letter queue). The scheduled event sends one message per shard of each of the
job's due queues; a shard message reads that shard (every page, no cap) and sends one message per
due entry; an entry message runs the job's unit, with SQS partial batch failures (Powertools),
and sends the work the unit leaves to the same run (a job done page by page).
The job function stays thin: it names its due queues, their cut-offs and its units.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from incentives.core.clock import iso_utc
from incentives.fanout.model import DueQueue, ShardWork, WorkMessage
from incentives.fanout.service import Unit, do_item, read_shard, start_run
from incentives.runtime import wiring

_processor = BatchProcessor(event_type=EventType.SQS)


@dataclass(frozen=True)
class ScheduledJob:
    work_queue: str
    """The environment variable holding the job's work queue URL (template.yaml sets it)."""
    cutoffs: Callable[[datetime], dict[DueQueue, datetime]]
    """The run's time → each due queue it reads, and up to when."""
    units: Mapping[DueQueue, Unit]
    """Each due queue's "do one entry" rule."""
    counts: tuple[str, ...]
    """What the units count (``settled``, ``emitted`` …), reported per entry and summed by ``fire``."""


def _do(job: ScheduledJob, record: SQSRecord) -> dict[str, Any]:
    work = WorkMessage.model_validate_json(record.body).work
    if isinstance(work, ShardWork):
        return {
            "run": work.run,
            "queued": read_shard(wiring.due_index(), wiring.work_queue(job.work_queue), work),
        }
    return {"run": work.run, **do_item(job.units[work.queue], wiring.work_queue(job.work_queue), work)}


def handle(job: ScheduledJob, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A scheduled event starts a run (returns its id, clock and shard messages, nothing counted yet:
    the units run downstream); an SQS batch of the job's work is processed record by record."""
    if "Records" in event:
        return dict(
            process_partial_response(
                event=event, record_handler=partial(_do, job), processor=_processor, context=context
            )
        )
    scheduled = EventBridgeModel.model_validate(event)
    shards = start_run(
        wiring.work_queue(job.work_queue),
        job.cutoffs(scheduled.time),
        wiring.due_index().shards,
        scheduled.time,
        scheduled.id,
    )
    return {
        "run": scheduled.id,
        "as_of": iso_utc(scheduled.time),
        "shards": shards,
        "counts": dict.fromkeys(job.counts, 0),
    }
