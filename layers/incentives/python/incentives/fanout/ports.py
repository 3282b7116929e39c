"""What the fan-out needs from storage and messaging; adapters live in ``incentives.storage``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from incentives.fanout.model import DueQueue, ItemWork, ShardWork


@dataclass(frozen=True)
class DuePage:
    entries: list[dict[str, Any]]
    """Each due entry as the index projects it (what its unit needs; opaque to the fan-out)."""
    cursor: str | None


class DueIndex(Protocol):
    shards: int
    """How many shards every due queue is spread over."""

    def page(self, queue: DueQueue, shard: int, up_to: datetime, cursor: str | None) -> DuePage:
        """Entries of one shard due at or before ``up_to``, oldest first, one native page."""
        ...


class WorkQueue(Protocol):
    def send(self, work: Sequence[ShardWork | ItemWork]) -> None:
        """Put work on the job's queue (batched); raises if any could not be sent."""
        ...
