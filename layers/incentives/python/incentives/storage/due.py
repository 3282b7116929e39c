"""The due index: one sparse, sharded index (``gsi4``) for every scheduled job's due entries.

An item that is due at some time carries ``gsi4pk = <QUEUE>#<shard>`` and ``gsi4sk =
<due at>#<corp>#<key>``; it leaves the index when its state moves on (the attributes are
removed), so a job reads only what is due. The index projects what the jobs' units need (see
``PROJECTED``), so an entry is done from its projection, never read again to be found. This
module alone builds these keys; repositories call :func:`due_attributes` for the items they write.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from incentives.core.clock import iso_utc
from incentives.fanout.model import DueQueue
from incentives.fanout.ports import DuePage
from incentives.storage.table import Table

DUE_INDEX = "gsi4"
DUE_SHARDS = 16
"""Shards per queue: one shard reader per shard, so a run's widest read is 1/16 of what is due."""
PAGE_SIZE = 500
"""Items per query page (DynamoDB also stops a page at 1 MB)."""
ATTRIBUTES = ("gsi4pk", "gsi4sk")

PROJECTED = (
    "corp_id",
    "order_id",
    "payout_id",
    "affiliate_id",
    "source",
    "owner_kind",
    "owner_id",
    "credit_id",
    "remaining_fen",
    "hold_until",
    "record_pk",
    "record_sk",
)
"""Non-key attributes the index projects (template.yaml declares the same list)."""

_PARTITIONS: dict[DueQueue, str] = {
    DueQueue.HOLDS: "HOLD",
    DueQueue.WINDOWS: "WINDOW_OPEN",
    DueQueue.OPEN_PAYOUTS: "PAYOUT_OPEN",
    DueQueue.WAITING_PAYOUTS: "PAYOUT_WAITING",
    DueQueue.LEVEL_DEALS: "LEVEL_DEAL",
    DueQueue.LEVEL_ASSESSMENTS: "LEVEL_DUE",
    DueQueue.LEVEL_RELEVELS: "LEVEL_RELEVEL",
}


def shard_of(identity: str) -> int:
    """Spread a queue over ``DUE_SHARDS`` partitions so the index never has one hot key."""
    return zlib.crc32(identity.encode()) % DUE_SHARDS


def due_attributes(queue: DueQueue, identity: str, at: datetime, corp_id: str, key: str) -> dict[str, str]:
    """The attributes that place an item in ``queue``, due at ``at``."""
    return {
        "gsi4pk": f"{_PARTITIONS[queue]}#{shard_of(identity)}",
        "gsi4sk": f"{iso_utc(at)}#{corp_id}#{key}",
    }


def due_at(entry: dict[str, Any]) -> str:
    """When an entry is due (the start of its sort key)."""
    return str(entry["gsi4sk"]).split("#", 1)[0]


class TableDueIndex:
    """:class:`incentives.fanout.ports.DueIndex` over the :class:`Table` port."""

    shards = DUE_SHARDS

    def __init__(self, table: Table) -> None:
        self._table = table

    def page(self, queue: DueQueue, shard: int, up_to: datetime, cursor: str | None) -> DuePage:
        page = self._table.query(
            f"{_PARTITIONS[queue]}#{shard}",
            index=DUE_INDEX,
            sk_at_most=iso_utc(up_to) + "#~",
            limit=PAGE_SIZE,
            cursor=cursor,
        )
        keep = {"pk", "sk", *ATTRIBUTES, *PROJECTED}
        return DuePage([{k: v for k, v in item.items() if k in keep} for item in page.items], page.cursor)

    def due(self, queue: DueQueue, up_to: datetime) -> Iterator[dict[str, Any]]:
        """Every entry of every shard due by ``up_to`` (no cap), page after native page."""
        for shard in range(self.shards):
            cursor = None
            while True:
                page = self.page(queue, shard, up_to, cursor)
                yield from page.entries
                cursor = page.cursor
                if cursor is None:
                    break
