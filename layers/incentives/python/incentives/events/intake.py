"""Accepting one webhook delivery onto the event backbone: size, signature, the merchant's
contract (``webhook.models``), then keep the raw body and enqueue it as a ``QueuedEvent`` — or,
when that message would be larger than SQS takes, keep the body in chunks of the table and
enqueue a ``ClaimedEvent`` naming them (a claim check, resolved by ``events.claim_check``).

Validation happens before anything is stored, so a rejected request changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from incentives.core.body import check_size, parse_json
from incentives.core.errors import InvalidInput, Unauthenticated
from incentives.core.validation import invalid_input
from incentives.messages.queued import ClaimCheck, ClaimedEvent, EventQueue, MessageBody, QueuedEvent
from incentives.webhook import signature
from incentives.webhook.models import WebhookEventBody
from incentives.webhook.ports import BodyChunkStore, RawEvent, RawEventStore

MAX_BODY_BYTES = 3_000_000
"""The largest webhook body accepted (a 2,000-line order with long product names is about 0.7 MB).
Bound by Lambda's 6 MB synchronous invocation payload, not API Gateway's 10 MB: the body travels
inside the proxy event as a JSON string, where escaping can double it (docs/decisions.md)."""
SQS_MESSAGE_BYTES = 256 * 1024
"""The largest message the events queue is sent; a larger event travels as a claim check."""
INLINE_BODY_BYTES = 256 * 1024
"""The largest body kept in the raw event's own item (well under DynamoDB's 400 KB)."""
CHUNK_BYTES = 300_000
"""UTF-8 bytes of one chunk of a large body: with its key and attributes, under 400 KB."""
CHUNK_TTL = timedelta(days=30)
"""How long a large body's chunks are kept: past the events queue's 4 days and its dead-letter
queue's 14 (a message keeps its first enqueue time there), with room for a redrive after that."""
CORP_HEADER = "x-corp-id"

_webhook_event = TypeAdapter[Any](WebhookEventBody)


def parse_webhook_event(raw_body: bytes) -> Any:
    """Parse and validate a webhook body (UTF-8 JSON, bounded depth and numbers); raise
    :class:`InvalidInput` naming the problem or the exact bad field."""
    document = parse_json(raw_body)
    if not isinstance(document, dict):
        raise InvalidInput("body must be a JSON object", field="body")
    try:
        return _webhook_event.validate_python(document)
    except ValidationError as error:
        raise invalid_input(error.errors(), document) from None


@dataclass(frozen=True)
class VerifiedDelivery:
    corp_id: str
    event: Any
    body: str
    body_sha256: str


def verify_delivery(
    headers: Mapping[str, str],
    raw_body: bytes,
    now: datetime,
    default_corp_id: str,
    webhook_secret_for: Callable[[str], str | None],
) -> VerifiedDelivery:
    """Check size, tenant, signature and freshness, then the contract. Nothing is stored here."""
    check_size(raw_body, MAX_BODY_BYTES)
    lowered = {key.lower(): value for key, value in headers.items()}
    corp_id = (lowered.get(CORP_HEADER) or default_corp_id).strip()
    secret = webhook_secret_for(corp_id)
    if not secret:
        raise Unauthenticated(f"no webhook secret is configured for corp {corp_id}", field="X-Corp-Id")
    signature.verify(secret, lowered.get("x-timestamp"), lowered.get("x-signature"), raw_body, now)
    event = parse_webhook_event(raw_body)
    return VerifiedDelivery(
        corp_id=corp_id,
        event=event,
        body=raw_body.decode("utf-8"),
        body_sha256=hashlib.sha256(raw_body).hexdigest(),
    )


def utf8_chunks(raw: bytes, size: int = CHUNK_BYTES) -> list[str]:
    """``raw`` (UTF-8) in pieces of at most ``size`` bytes, each cut between two characters."""
    chunks: list[str] = []
    start = 0
    while start < len(raw):
        end = min(start + size, len(raw))
        while end < len(raw) and raw[end] & 0xC0 == 0x80:  # a continuation byte: back off
            end -= 1
        chunks.append(raw[start:end].decode("utf-8"))
        start = end
    return chunks


def keep_chunks(
    chunks: BodyChunkStore,
    corp_id: str,
    event_id: str,
    body_sha256: str,
    pieces: list[str],
    received_at: datetime,
) -> None:
    """Keep a body's pieces (:func:`utf8_chunks`) for its claim check, until ``CHUNK_TTL`` after receipt."""
    chunks.put(corp_id, event_id, body_sha256, pieces, received_at + CHUNK_TTL)


def keep_and_enqueue(
    delivery: VerifiedDelivery,
    store: RawEventStore,
    chunks: BodyChunkStore,
    queue: EventQueue,
    received_at: datetime,
) -> tuple[dict[str, Any], bool]:
    """Keep the raw body for audit, then enqueue the event; return the answer and whether it was new.

    A body too large for the raw event's item, or an event too large for a queue message, is
    kept in chunks after the raw event; the message is then a claim check naming them.

    The answer depends only on the event, so a repeat with the same body gets the same answer.
    That repeat writes the same chunks and is enqueued again (the processor deduplicates by event
    id), so a crash between keeping and enqueueing never loses the event. A repeat with another
    body raises ``Conflict`` before anything else is written or enqueued.
    """
    event = delivery.event
    queued = QueuedEvent(corp_id=delivery.corp_id, received_at=received_at, event=event)
    raw = delivery.body.encode()
    queued_json = queued.model_dump_json()  # serialised once: measured here, sent as it is
    claim = len(queued_json.encode()) > SQS_MESSAGE_BYTES
    pieces = utf8_chunks(raw) if claim or len(raw) > INLINE_BODY_BYTES else []
    first_time = store.keep(
        RawEvent(
            corp_id=delivery.corp_id,
            event_id=event.event_id,
            event_type=event.type,
            body=delivery.body,
            body_sha256=delivery.body_sha256,
            received_at=received_at,
            body_chunks=len(pieces),
        )
    )
    if pieces:
        keep_chunks(chunks, delivery.corp_id, event.event_id, delivery.body_sha256, pieces, received_at)
    message: MessageBody | ClaimedEvent = MessageBody(queued_json)
    if claim:
        check = ClaimCheck(
            event_id=event.event_id,
            type=event.type,
            body_sha256=delivery.body_sha256,
            body_bytes=len(raw),
            chunks=len(pieces),
        )
        message = ClaimedEvent(corp_id=delivery.corp_id, received_at=received_at, claim_check=check)
    queue.send([message])
    return {"event_id": event.event_id, "type": event.type, "status": "accepted"}, first_time
