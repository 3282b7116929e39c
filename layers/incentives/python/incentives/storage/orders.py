"""DynamoDB adapter of the order aggregate: one item per order, optimistic versioning."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from incentives.core.clock import iso_utc, parse_instant
from incentives.core.errors import ConcurrentModification
from incentives.orders.aggregate import OrderState
from incentives.orders.ports import DueOrder
from incentives.storage import keys
from incentives.storage.dynamo import from_item, is_conditional_failure, to_item
from incentives.webhook.models import AfterSalesWindowClosed, OrderCompleted, OrderPaid, OrderRefunded

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


def state_to_document(state: OrderState) -> dict[str, Any]:
    return {
        "paid": state.paid.model_dump(mode="json") if state.paid else None,
        "refunds": {rid: refund.model_dump(mode="json") for rid, refund in sorted(state.refunds.items())},
        "completed": state.completed.model_dump(mode="json") if state.completed else None,
        "window_closed": state.window_closed.model_dump(mode="json") if state.window_closed else None,
        "window_closes_at": iso_utc(state.window_closes_at) if state.window_closes_at else None,
        "applied_event_ids": sorted(state.applied_event_ids),
    }


def state_from_document(corp_id: str, order_id: str, version: int, doc: dict[str, Any]) -> OrderState:
    return OrderState(
        corp_id=corp_id,
        order_id=order_id,
        version=version,
        paid=OrderPaid.model_validate(doc["paid"]) if doc.get("paid") else None,
        refunds={rid: OrderRefunded.model_validate(value) for rid, value in doc.get("refunds", {}).items()},
        completed=OrderCompleted.model_validate(doc["completed"]) if doc.get("completed") else None,
        window_closed=(
            AfterSalesWindowClosed.model_validate(doc["window_closed"]) if doc.get("window_closed") else None
        ),
        window_closes_at=parse_instant(doc["window_closes_at"]) if doc.get("window_closes_at") else None,
        applied_event_ids=frozenset(doc.get("applied_event_ids", [])),
    )


class DynamoOrderRepository:
    """Orders in the single table; the open-window index is sparse (only orders in their window)."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get(self, corp_id: str, order_id: str) -> OrderState | None:
        response = self._client.get_item(
            TableName=self._table, Key=to_item(keys.order_key(corp_id, order_id)), ConsistentRead=True
        )
        if "Item" not in response:
            return None
        item = from_item(response["Item"])
        return state_from_document(corp_id, order_id, int(item["version"]), json.loads(item["doc"]))

    def save(self, state: OrderState, expected_version: int) -> None:
        values: dict[str, Any] = {
            **keys.order_key(state.corp_id, state.order_id),
            "kind": "order",
            "corp_id": state.corp_id,
            "order_id": state.order_id,
            "status": state.status.value,
            "version": state.version,
            "paid_fen": state.paid_fen,
            "refunded_fen": state.refunded_fen,
            "doc": json.dumps(state_to_document(state), separators=(",", ":")),
        }
        if state.awaits_window_close and state.window_closes_at is not None:
            values["gsi1pk"] = keys.window_shard(state.corp_id, state.order_id)
            values["gsi1sk"] = keys.window_sort_key(
                iso_utc(state.window_closes_at), state.corp_id, state.order_id
            )
        if expected_version == 0:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": to_item({":expected": expected_version}),
            }
        try:
            self._client.put_item(TableName=self._table, Item=to_item(values), **condition)
        except ClientError as error:
            if is_conditional_failure(error):
                raise ConcurrentModification(f"order {state.order_id} changed meanwhile") from error
            raise

    def orders_past_window(self, now: datetime, limit: int) -> Sequence[DueOrder]:
        due: list[DueOrder] = []
        upper = iso_utc(now) + "#~"
        for shard in keys.window_shards():
            kwargs: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": keys.WINDOW_INDEX,
                "KeyConditionExpression": "gsi1pk = :shard AND gsi1sk <= :upper",
                "ExpressionAttributeValues": to_item({":shard": shard, ":upper": upper}),
                "ProjectionExpression": "corp_id, order_id, gsi1sk",
            }
            while len(due) < limit:
                page = self._client.query(**kwargs)
                for raw in page.get("Items", []):
                    item = from_item(raw)
                    closes_at = parse_instant(str(item["gsi1sk"]).split("#", 1)[0])
                    due.append(DueOrder(str(item["corp_id"]), str(item["order_id"]), closes_at))
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return due[:limit]
