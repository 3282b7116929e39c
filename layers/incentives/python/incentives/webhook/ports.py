"""What accepting a webhook delivery needs: the raw-event audit store (its adapter is
``incentives.storage.raw_events``), the store of large bodies' chunks (``incentives.storage.event_chunks``);
the queue port is ``incentives.messages.queued.EventQueue``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class RawEvent:
    corp_id: str
    event_id: str
    event_type: str
    body: str
    body_sha256: str
    received_at: datetime
    body_chunks: int = 0
    """0: the body is kept in the raw event's own item; n: too large for it, it is kept in ``n``
    chunks of the :class:`BodyChunkStore` instead (the item keeps its hash and size)."""


class RawEventStore(Protocol):
    def keep(self, raw: RawEvent) -> bool:
        """Keep the raw event for audit. True if new, False if the same body was kept before.

        Raises ``Conflict`` when the event id was kept before with another body.
        """
        ...


class BodyChunkStore(Protocol):
    """A large webhook body in pieces, each named by the body's hash and its position (a retry
    writes the same items), expiring at ``expires_at``."""

    def put(
        self, corp_id: str, event_id: str, body_sha256: str, chunks: Sequence[str], expires_at: datetime
    ) -> None: ...

    def get(self, corp_id: str, event_id: str, body_sha256: str, count: int) -> list[str | None]:
        """The ``count`` chunks in order, in one batched read; None where a chunk is missing."""
        ...
