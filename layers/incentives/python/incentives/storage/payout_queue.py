"""The payout queue (SQS): one small message per payout attempt generation."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient


class PayoutMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    corp_id: str = Field(min_length=1)
    payout_id: str = Field(min_length=1, max_length=32)
    generation: int = Field(ge=1)


class SqsPayoutQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, corp_id: str, payout_id: str, generation: int) -> None:
        body = PayoutMessage(corp_id=corp_id, payout_id=payout_id, generation=generation).model_dump()
        self._client.send_message(QueueUrl=self._url, MessageBody=json.dumps(body))
