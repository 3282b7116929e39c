"""The message on the inbound events queue, and the port that sends it.

Either kind of event travels in it: the merchant's (``incentives.webhook.models``, the external
contract) and the product's own (``incentives.messages.internal``). The event processor reads
it back with the same models, then hands it to the consumers subscribed to its type
(``incentives.events``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Discriminator, Field, Tag

from incentives.messages.internal import InternalEvent
from incentives.webhook.models import Identifier, WebhookEvent, event_types

QueuedEventBody = Annotated[WebhookEvent | InternalEvent, Field(discriminator="type")]
"""What may travel on the inbound events queue: the webhook's events plus internal ones."""

QUEUED_EVENT_TYPES = event_types(WebhookEvent | InternalEvent)


class QueuedEvent(BaseModel):
    """The message on the inbound events queue: one event, its tenant and its arrival time."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # as ``Contract``

    corp_id: Identifier
    received_at: AwareDatetime
    event: QueuedEventBody


class ClaimCheck(BaseModel):
    """Where a webhook event too large for a queue message waits: its raw body, verbatim, in
    ``chunks`` content-addressed items of the table (``incentives.events.claim_check``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: Identifier
    type: Annotated[str, Field(min_length=1, max_length=64)]
    body_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    body_bytes: Annotated[int, Field(ge=1)]
    chunks: Annotated[int, Field(ge=1, le=100)]
    """At most 100: the chunks are read back in one ``BatchGetItem``."""


class ClaimedEvent(BaseModel):
    """The message on the inbound events queue in place of a :class:`QueuedEvent` larger than an
    SQS message: the event processor reads the body back and validates it as the webhook did."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    corp_id: Identifier
    received_at: AwareDatetime
    claim_check: ClaimCheck


def _message_kind(value: Any) -> str:
    has_claim = isinstance(value, dict) and "claim_check" in value
    return "claim_check" if has_claim or isinstance(value, ClaimedEvent) else "event"


QueuedMessage = Annotated[
    Annotated[QueuedEvent, Tag("event")] | Annotated[ClaimedEvent, Tag("claim_check")],
    Discriminator(_message_kind),
]
"""Any message of the inbound events queue: an event, or a claim check for one (read by the
event processor's ``events.claim_check.queued_message``, built where it is used: the functions
that only enqueue do not pay for its validator at import)."""


@dataclass(frozen=True)
class MessageBody:
    """A message of the inbound events queue already serialised (``model_dump_json`` of a
    :class:`QueuedEvent`), sent as it is: the webhook serialises a possibly large event once to
    measure it, and sends that text rather than serialising the event a second time."""

    text: str


class EventQueue(Protocol):
    def send(self, events: Sequence[QueuedEvent | ClaimedEvent | MessageBody]) -> None:
        """Put events on the inbound events queue; raises if any could not be sent."""
        ...
