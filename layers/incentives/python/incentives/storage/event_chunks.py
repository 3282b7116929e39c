"""Chunks of webhook bodies too large for one item or one queue message (the claim check,
``incentives.events.claim_check``): beside the raw event, expiring with DynamoDB's TTL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from incentives.storage import keys
from incentives.storage.table import Table, put_all


class TableBodyChunkStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def put(
        self, corp_id: str, event_id: str, body_sha256: str, chunks: Sequence[str], expires_at: datetime
    ) -> None:
        """Idempotent puts (the same body, the same keys and texts); a retry moves the expiry on."""
        put_all(
            self._table,
            [
                {
                    **keys.event_chunk_key(corp_id, event_id, body_sha256, index),
                    "kind": "event_chunk",
                    "corp_id": corp_id,
                    "event_id": event_id,
                    "body": text,
                    "expires_at": int(expires_at.timestamp()),
                }
                for index, text in enumerate(chunks)
            ],
        )

    def get(self, corp_id: str, event_id: str, body_sha256: str, count: int) -> list[str | None]:
        found = self._table.get_many(
            [keys.event_chunk_key(corp_id, event_id, body_sha256, index) for index in range(count)]
        )
        return [None if item is None else str(item["body"]) for item in found]
