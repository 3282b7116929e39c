"""A scheduled job's work queue (SQS): its run's shard and item messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from incentives.fanout.model import ItemWork, ShardWork, WorkMessage
from incentives.storage.sqs import send_bodies

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient


class SqsWorkQueue:
    """:class:`incentives.fanout.ports.WorkQueue` on SQS, 10 messages per ``SendMessageBatch``."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, work: Sequence[ShardWork | ItemWork]) -> None:
        bodies = [WorkMessage(work=one).model_dump_json() for one in work]
        send_bodies(self._client, self._url, bodies, "work messages")
