"""Accepting one webhook delivery onto the event backbone: size, signature, the merchant's
contract (``webhook.models``), then keep the raw body and enqueue it as a ``QueuedEvent``.

Validation happens before anything is stored, so a rejected request changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from incentives.core.body import check_size, parse_json
from incentives.core.errors import InvalidInput, Unauthenticated
from incentives.core.validation import invalid_input
from incentives.messages.queued import EventQueue, QueuedEvent
from incentives.webhook import signature
from incentives.webhook.models import WebhookEventBody
from incentives.webhook.ports import RawEvent, RawEventStore

MAX_BODY_BYTES = 256 * 1024
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


def keep_and_enqueue(
    delivery: VerifiedDelivery, store: RawEventStore, queue: EventQueue, received_at: datetime
) -> tuple[dict[str, Any], bool]:
    """Keep the raw body for audit, then enqueue the event; return the answer and whether it was new.

    The answer depends only on the event, so a repeat with the same body gets the same answer.
    That repeat is enqueued again (the processor deduplicates by event id), so a crash between
    keeping and enqueueing never loses the event. A repeat with another body raises
    ``Conflict`` before anything is enqueued.
    """
    event = delivery.event
    first_time = store.keep(
        RawEvent(
            corp_id=delivery.corp_id,
            event_id=event.event_id,
            event_type=event.type,
            body=delivery.body,
            body_sha256=delivery.body_sha256,
            received_at=received_at,
        )
    )
    queue.send([QueuedEvent(corp_id=delivery.corp_id, received_at=received_at, event=event)])
    return {"event_id": event.event_id, "type": event.type, "status": "accepted"}, first_time
