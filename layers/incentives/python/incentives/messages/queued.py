"""The message on the inbound events queue, and the port that sends it.

Either kind of event travels in it: the merchant's (``incentives.webhook.models``, the external
contract) and the product's own (``incentives.messages.internal``). The event processor reads
it back with the same models, then hands it to the consumers subscribed to its type
(``incentives.events``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

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


class EventQueue(Protocol):
    def send(self, events: Sequence[QueuedEvent]) -> None:
        """Put events on the inbound events queue; raises if any could not be sent."""
        ...
