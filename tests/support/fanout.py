"""The scheduled fan-out in memory: a counting table and a work queue drained as SQS would be.

Shared by tests/unit/test_fanout.py and bench/fanout.py: the same ``start_run`` / ``read_shard``
and units as on AWS, with the queue a list and every table and queue call counted.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from incentives.fanout.model import DueQueue, ItemWork, ShardWork, WorkMessage
from incentives.fanout.service import Unit, do_item, read_shard, start_run
from incentives.storage.due import TableDueIndex
from incentives.storage.memory_table import MemoryTable
from incentives.storage.sqs import SQS_BATCH_LIMIT
from incentives.storage.table import Item, Key, Page, Write


@dataclass
class Calls:
    reads: int = 0
    """Round trips that read: GetItem, BatchGetItem (100 keys each), Query (one page)."""
    writes: int = 0
    """Round trips that write: one conditional write or one transaction."""
    sends: int = 0
    """SQS round trips: one SendMessage or one SendMessageBatch (10 messages)."""


class CountingTable:
    """:class:`Table` over a :class:`MemoryTable`, counting round trips as DynamoDB would bill them."""

    def __init__(self, table: MemoryTable | None = None) -> None:
        self.inner = table or MemoryTable()
        self.calls = Calls()

    def get(self, key: Key) -> Item | None:
        self.calls.reads += 1
        return self.inner.get(key)

    def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        self.calls.reads += -(-len(keys) // 100)
        return self.inner.get_many(keys)

    def transact(self, writes: Sequence[Write]) -> None:
        self.calls.writes += 1
        self.inner.transact(writes)

    def query(self, partition: str, **kwargs: Any) -> Page:
        self.calls.reads += 1
        return self.inner.query(partition, **kwargs)


@dataclass
class MemoryWorkQueue:
    """A job's work queue as a list of message bodies (JSON, as SQS carries them)."""

    calls: Calls
    messages: deque[str] = field(default_factory=deque)

    def send(self, work: Sequence[ShardWork | ItemWork]) -> None:
        self.calls.sends += -(-len(work) // SQS_BATCH_LIMIT)
        self.messages.extend(WorkMessage(work=one).model_dump_json() for one in work)


def run_fanned_out(
    table: CountingTable,
    cutoffs: Mapping[DueQueue, datetime],
    units: Mapping[DueQueue, Unit],
    as_of: datetime,
) -> tuple[Counter[str], int]:
    """One scheduled run, start to end: shard messages, shard reads, every entry's unit.
    Returns the units' summed counts and how many entries were done."""
    queue = MemoryWorkQueue(table.calls)
    index = TableDueIndex(table)
    start_run(queue, cutoffs, index.shards, as_of, "run-1")
    done: Counter[str] = Counter()
    entries = 0
    while queue.messages:
        work = WorkMessage.model_validate_json(queue.messages.popleft()).work
        if isinstance(work, ShardWork):
            read_shard(index, queue, work)
        else:
            done.update(do_item(units[work.queue], queue, work))
            entries += 1
    return done, entries
