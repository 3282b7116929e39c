"""The inbound events queue (SQS)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from incentives.messages.queued import ClaimedEvent, MessageBody, QueuedEvent
from incentives.storage.sqs import send_bodies

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient


class SqsEventQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, events: Sequence[QueuedEvent | ClaimedEvent | MessageBody]) -> None:
        bodies = [
            event.text if isinstance(event, MessageBody) else event.model_dump_json() for event in events
        ]
        send_bodies(self._client, self._url, bodies, "events")
