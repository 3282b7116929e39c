"""The one scheduled fan-out: start a run, read a shard, do an item.

On AWS a run is three hops, each as wide as the work: the schedule sends one message per shard
(``start_run``), each shard is read by its own invocation that sends one message per due entry
(``read_shard``), and each entry is done by the job's unit with SQS partial batch failures. No
count caps a run, no invocation reads more than one shard, and no entry is read twice: its data
comes from the index projection. The in-process entry points (``settle_holds_past``,
``reconcile``, ``run_assessment`` …) read the same index and run the same units in one process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from incentives.fanout.model import DueQueue, ItemWork, ShardWork
from incentives.fanout.ports import DueIndex, WorkQueue


@dataclass(frozen=True)
class Then:
    """What a unit did (its counts) and the work it leaves to the same run: entries to do next
    (a job's next page, the items a page found), each sent as an :class:`ItemWork` of the run."""

    counts: Mapping[str, int]
    work: Sequence[tuple[DueQueue, dict[str, Any]]] = ()


Unit = Callable[[dict[str, Any], datetime], Mapping[str, int] | Then]
"""Do one due entry at the run's time; returns counts (e.g. ``{"settled": 1}``), or a
:class:`Then` with the work it leaves."""

SEND_BATCH = 100
"""Item messages handed to the queue at a time (it sends them 10 per SendMessageBatch)."""


def start_run(
    queue: WorkQueue, cutoffs: Mapping[DueQueue, datetime], shards: int, as_of: datetime, run: str
) -> int:
    """Send one :class:`ShardWork` per shard of each due queue; returns how many were sent."""
    work = [
        ShardWork(queue=due, shard=shard, up_to=up_to, as_of=as_of, run=run)
        for due, up_to in cutoffs.items()
        for shard in range(shards)
    ]
    queue.send(work)
    return len(work)


def due_entries(index: DueIndex, due: DueQueue, shard: int, up_to: datetime) -> Iterator[dict[str, Any]]:
    """Every entry of one shard due by ``up_to``, page after native page."""
    cursor = None
    while True:
        page = index.page(due, shard, up_to, cursor)
        yield from page.entries
        cursor = page.cursor
        if cursor is None:
            return


def read_shard(index: DueIndex, queue: WorkQueue, work: ShardWork) -> int:
    """Send one :class:`ItemWork` per entry of the shard; returns how many were sent.

    A redelivered shard message reads its shard again: entries already done have left the index,
    and an entry sent twice is done once in effect (every unit is idempotent).
    """
    sent, pending = 0, []
    for entry in due_entries(index, work.queue, work.shard, work.up_to):
        pending.append(ItemWork(queue=work.queue, as_of=work.as_of, run=work.run, entry=entry))
        if len(pending) == SEND_BATCH:
            queue.send(pending)
            sent, pending = sent + len(pending), []
    if pending:
        queue.send(pending)
        sent += len(pending)
    return sent


def do_item(unit: Unit, queue: WorkQueue, work: ItemWork) -> dict[str, int]:
    """Do one entry; the work it leaves goes on the queue as the same run's. Returns its counts,
    with ``sent``: how many entries it left (so whoever follows the run waits for them)."""
    done = unit(work.entry, work.as_of)
    if not isinstance(done, Then):
        return dict(done)
    more = [ItemWork(queue=due, as_of=work.as_of, run=work.run, entry=entry) for due, entry in done.work]
    for start in range(0, len(more), SEND_BATCH):
        queue.send(more[start : start + SEND_BATCH])
    return {**done.counts, "sent": len(more)}
