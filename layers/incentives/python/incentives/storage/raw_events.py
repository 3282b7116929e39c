"""Raw inbound events kept verbatim for audit, one item per (tenant, event id); a body too large
for the item is kept in chunks (``storage/event_chunks.py``) and the item names their count."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from incentives.core.clock import iso_utc
from incentives.core.errors import Conflict
from incentives.storage import keys
from incentives.storage.dynamo import from_item, is_conditional_failure, to_item
from incentives.webhook.ports import RawEvent

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


class DynamoRawEventStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def keep(self, raw: RawEvent) -> bool:
        item = {
            **keys.raw_event_key(raw.corp_id, raw.event_id),
            "kind": "raw_event",
            "corp_id": raw.corp_id,
            "event_id": raw.event_id,
            "event_type": raw.event_type,
            "body": None if raw.body_chunks else raw.body,
            "body_sha256": raw.body_sha256,
            "body_bytes": len(raw.body.encode()),
            "body_chunks": raw.body_chunks or None,
            "received_at": iso_utc(raw.received_at),
        }
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not is_conditional_failure(error):
                raise
            old_item: dict[str, Any] = dict(error.response.get("Item", {}))  # type: ignore[call-overload]
            old = from_item(old_item)
            if old.get("body_sha256") != raw.body_sha256:
                raise Conflict(
                    f"event_id {raw.event_id} was already received with a different body", field="event_id"
                ) from error
            return False
        return True
