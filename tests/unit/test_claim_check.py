"""The claim check's pure parts: cutting a UTF-8 body into chunks, and reading a queue message
that is an event or a claim check (against an in-memory chunk store)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from incentives.events.claim_check import ClaimCheckFailed, queued_message, read_message
from incentives.events.intake import (
    SQS_MESSAGE_BYTES,
    VerifiedDelivery,
    keep_and_enqueue,
    parse_webhook_event,
    utf8_chunks,
)
from incentives.messages.queued import ClaimedEvent, QueuedEvent
from incentives.storage.queue import SqsEventQueue
from incentives.webhook.ports import RawEvent
from tests.support import order_paid
from tests.support.large_orders import large_order_events


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


class _Sqs:
    def __init__(self) -> None:
        self.bodies: list[str] = []

    def send_message(self, QueueUrl: str, MessageBody: str) -> None:
        self.bodies.append(MessageBody)


class _RawEvents:
    def keep(self, raw: RawEvent) -> bool:
        return True


@pytest.mark.parametrize("lines", [1, 2_000])
def test_the_webhook_serialises_the_event_once_and_sends_that_text(
    lines: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = datetime(2026, 11, 11, 0, 5, tzinfo=UTC)
    raw = json.dumps(large_order_events("O-1", lines, 0, at, names=True)[0], ensure_ascii=False).encode()
    delivery = VerifiedDelivery("c1", parse_webhook_event(raw), raw.decode(), hashlib.sha256(raw).hexdigest())
    serialised: list[str] = []
    dump = QueuedEvent.model_dump_json

    def counted(self: QueuedEvent, **options: Any) -> str:
        serialised.append(dump(self, **options))
        return serialised[-1]

    monkeypatch.setattr(QueuedEvent, "model_dump_json", counted)
    sqs, chunks = _Sqs(), Chunks()
    keep_and_enqueue(delivery, _RawEvents(), chunks, SqsEventQueue(sqs, "queue"), at)  # type: ignore[arg-type]
    assert len(serialised) == 1
    [body] = sqs.bodies
    message = queued_message.validate_json(body)
    if len(serialised[0].encode()) > SQS_MESSAGE_BYTES:
        assert lines == 2_000 and isinstance(message, ClaimedEvent) and chunks.texts
    else:
        assert lines == 1 and body == serialised[0]
        assert isinstance(message, QueuedEvent) and message.event.data.order_id == "O-1"
