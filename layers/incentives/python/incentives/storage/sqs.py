"""Sending to SQS in batches (the events queue and the scheduled jobs' work queues)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

SQS_BATCH_LIMIT = 10


def send_bodies(client: SQSClient, queue_url: str, bodies: Sequence[str], what: str = "messages") -> None:
    """Send message bodies 10 per ``SendMessageBatch`` (one alone as a plain send); raises if any
    could not be sent (the caller's message is then retried whole: receivers are idempotent)."""
    for start in range(0, len(bodies), SQS_BATCH_LIMIT):
        chunk = bodies[start : start + SQS_BATCH_LIMIT]
        if len(chunk) == 1:
            client.send_message(QueueUrl=queue_url, MessageBody=chunk[0])
            continue
        response = client.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(index), "MessageBody": body} for index, body in enumerate(chunk)],
        )
        if response.get("Failed"):
            reasons = "; ".join(f"{f['Id']}: {f.get('Message', f['Code'])}" for f in response["Failed"])
            raise RuntimeError(f"{len(response['Failed'])} {what} not queued: {reasons}")
