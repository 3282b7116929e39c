"""The inbound events queue (SQS)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from incentives.messages.queued import QueuedEvent

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

SQS_BATCH_LIMIT = 10


class SqsEventQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, events: Sequence[QueuedEvent]) -> None:
        for start in range(0, len(events), SQS_BATCH_LIMIT):
            chunk = events[start : start + SQS_BATCH_LIMIT]
            if len(chunk) == 1:
                self._client.send_message(QueueUrl=self._url, MessageBody=chunk[0].model_dump_json())
                continue
            response = self._client.send_message_batch(
                QueueUrl=self._url,
                Entries=[
                    {"Id": str(index), "MessageBody": event.model_dump_json()}
                    for index, event in enumerate(chunk)
                ],
            )
            if response.get("Failed"):
                reasons = "; ".join(f"{f['Id']}: {f.get('Message', f['Code'])}" for f in response["Failed"])
                raise RuntimeError(f"{len(response['Failed'])} events not queued: {reasons}")
