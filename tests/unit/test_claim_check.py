"""The claim check's pure parts: cutting a UTF-8 body into chunks, and reading a queue message
that is an event or a claim check (against an in-memory chunk store)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime

import pytest

from incentives.events.claim_check import ClaimCheckFailed, read_message
from incentives.events.intake import utf8_chunks
from tests.support import order_paid


class Chunks:
    def __init__(self) -> None:
        self.texts: dict[tuple[str, str, str, int], str] = {}

    def put(
        self, corp_id: str, event_id: str, body_sha256: str, chunks: Sequence[str], expires_at: datetime
    ) -> None:
        for index, text in enumerate(chunks):
            self.texts[(corp_id, event_id, body_sha256, index)] = text

    def get(self, corp_id: str, event_id: str, body_sha256: str, count: int) -> list[str | None]:
        return [self.texts.get((corp_id, event_id, body_sha256, index)) for index in range(count)]


@pytest.mark.parametrize("size", [4, 5, 6, 7, 300_000])
def test_chunks_are_cut_between_characters_and_join_back(size: int) -> None:
    raw = ("价格 ¥1,000 🎁 " * 50).encode()
    chunks = utf8_chunks(raw, size)
    assert "".join(chunks).encode() == raw
    assert all(0 < len(chunk.encode()) <= size for chunk in chunks)


def _claim(raw: bytes, chunks: int, **changes: object) -> str:
    event = json.loads(raw)
    check = {
        "event_id": event["event_id"],
        "type": event["type"],
        "body_sha256": hashlib.sha256(raw).hexdigest(),
        "body_bytes": len(raw),
        "chunks": chunks,
        **changes,
    }
    return json.dumps({"corp_id": "c1", "received_at": "2026-11-11T00:00:00+00:00", "claim_check": check})


def test_a_claim_check_reads_back_the_event_it_names() -> None:
    raw = json.dumps(order_paid("O-9"), ensure_ascii=False).encode()
    store = Chunks()
    pieces = utf8_chunks(raw, 100)
    store.put("c1", "paid-O-9", hashlib.sha256(raw).hexdigest(), pieces, datetime.now())
    queued = read_message(_claim(raw, len(pieces)), store)
    assert queued.corp_id == "c1" and queued.event.data.order_id == "O-9"


def test_a_missing_a_corrupt_or_a_mislabelled_chunk_set_fails() -> None:
    raw = json.dumps(order_paid("O-9"), ensure_ascii=False).encode()
    digest = hashlib.sha256(raw).hexdigest()
    store = Chunks()
    pieces = utf8_chunks(raw, 100)
    store.put("c1", "paid-O-9", digest, pieces, datetime.now())
    with pytest.raises(ClaimCheckFailed, match="missing"):
        read_message(_claim(raw, len(pieces) + 1), store)
    with pytest.raises(ClaimCheckFailed, match=r"is event paid-O-9 of type order\.paid"):
        read_message(_claim(raw, len(pieces), type="order.refunded"), store)
    store.texts[("c1", "paid-O-9", digest, 0)] = pieces[0].replace("O", "0", 1)
    with pytest.raises(ClaimCheckFailed, match="sha256"):
        read_message(_claim(raw, len(pieces)), store)


def test_an_event_that_mentions_claim_check_is_read_as_an_event() -> None:
    event = order_paid("O-claim_check", event_id="claim_check")
    message = json.dumps({"corp_id": "c1", "received_at": "2026-11-11T00:00:00+00:00", "event": event})
    assert read_message(message, Chunks()).event.event_id == "claim_check"
