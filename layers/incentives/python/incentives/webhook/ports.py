"""What accepting a webhook delivery needs: the raw-event audit store (its adapter is
``incentives.storage.raw_events``); the queue port is ``incentives.messages.queued.EventQueue``."""

from __future__ import annotations

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


class RawEventStore(Protocol):
    def keep(self, raw: RawEvent) -> bool:
        """Keep the raw event for audit. True if new, False if the same body was kept before.

        Raises ``Conflict`` when the event id was kept before with another body.
        """
        ...
