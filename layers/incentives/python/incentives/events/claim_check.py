"""The event processor's side of the claim check: a message of the events queue is an event, or
a :class:`~incentives.messages.queued.ClaimedEvent` naming the chunks of a webhook body too large
for SQS (``events.intake``). The chunks are read in one batched round trip, their hash checked
against the message's, and the body validated again as the webhook did; any mismatch is a
:class:`ClaimCheckFailed`, so the message goes back to the queue (then its dead-letter queue),
never dropped in silence.
"""

from __future__ import annotations

import hashlib

from pydantic import TypeAdapter

from incentives.messages.queued import ClaimedEvent, QueuedEvent, QueuedMessage
from incentives.webhook.ports import BodyChunkStore

queued_message = TypeAdapter[QueuedEvent | ClaimedEvent](QueuedMessage)
"""Built at import: the event processor reads every message with it (decision 159)."""


class ClaimCheckFailed(RuntimeError):
    """A claim check could not be resolved into the event it names."""


def resolve(message: ClaimedEvent, chunks: BodyChunkStore) -> QueuedEvent:
    """The event a claim check names, read back from its chunks and validated."""
    check = message.claim_check
    name = f"claim check of event {check.event_id} (corp {message.corp_id})"
    texts = chunks.get(message.corp_id, check.event_id, check.body_sha256, check.chunks)
    missing = [index for index, text in enumerate(texts) if text is None]
    if missing:
        raise ClaimCheckFailed(f"{name}: chunks {missing} of {check.chunks} are missing")
    raw = "".join(text for text in texts if text is not None).encode()
    digest = hashlib.sha256(raw).hexdigest()
    if len(raw) != check.body_bytes or digest != check.body_sha256:
        raise ClaimCheckFailed(
            f"{name}: the chunks hold {len(raw)} bytes with sha256 {digest}, "
            f"not {check.body_bytes} bytes with sha256 {check.body_sha256}"
        )
    # The webhook's contract parser is built on import; only a claim check needs it here.
    from incentives.events.intake import parse_webhook_event

    event = parse_webhook_event(raw)
    if event.event_id != check.event_id or event.type != check.type:
        raise ClaimCheckFailed(f"{name}: the body is event {event.event_id} of type {event.type}")
    return QueuedEvent(corp_id=message.corp_id, received_at=message.received_at, event=event)


def read_message(body: str, chunks: BodyChunkStore) -> QueuedEvent:
    """The event a message of the events queue carries, or names (a claim check)."""
    message = queued_message.validate_json(body)
    return resolve(message, chunks) if isinstance(message, ClaimedEvent) else message
