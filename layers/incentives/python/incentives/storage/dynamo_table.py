""":class:`~incentives.storage.table.Table` on DynamoDB: one conditional call, or one transaction for many."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from incentives.storage.dynamo import from_item, to_item
from incentives.storage.table import (
    AtLeast,
    Condition,
    ConditionFailed,
    Delete,
    Equals,
    Exists,
    Item,
    Key,
    NotExists,
    Page,
    Put,
    TransactionConflicted,
    Write,
    decode_cursor,
    encode_cursor,
    key_attributes,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


def _compile_conditions(
    conditions: Sequence[Condition], names: dict[str, str], values: dict[str, Any]
) -> str:
    parts = []
    for position, condition in enumerate(conditions):
        if isinstance(condition, NotExists):
            parts.append("attribute_not_exists(pk)")
        elif isinstance(condition, Exists):
            parts.append("attribute_exists(pk)")
        elif isinstance(condition, Equals):
            names[f"#c{position}"] = condition.name
            values[f":c{position}"] = condition.value
            parts.append(f"#c{position} = :c{position}")
        elif isinstance(condition, AtLeast):
            names[f"#c{position}"] = condition.name
            values[f":c{position}"] = condition.value
            parts.append(f"#c{position} >= :c{position}")
        else:
            names[f"#c{position}"] = condition.name
            values[f":c{position}"] = condition.value
            parts.append(f"(attribute_not_exists(#c{position}) OR #c{position} <= :c{position})")
    return " AND ".join(parts)


def _compile(write: Write, table_name: str) -> tuple[str, dict[str, Any]]:
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    request: dict[str, Any] = {"TableName": table_name}
    if isinstance(write, Put):
        kind, request["Item"] = "Put", to_item(write.item)
    elif isinstance(write, Delete):
        kind, request["Key"] = "Delete", to_item(write.key)
    else:
        kind, request["Key"] = "Update", to_item(write.key)
        clauses = []
        if write.set:
            assignments = []
            for position, (name, value) in enumerate(write.set.items()):
                names[f"#s{position}"], values[f":s{position}"] = name, value
                assignments.append(f"#s{position} = :s{position}")
            clauses.append("SET " + ", ".join(assignments))
        if write.add:
            increments = []
            for position, (name, value) in enumerate(write.add.items()):
                names[f"#a{position}"], values[f":a{position}"] = name, value
                increments.append(f"#a{position} :a{position}")
            clauses.append("ADD " + ", ".join(increments))
        if write.remove:
            removals = []
            for position, name in enumerate(write.remove):
                names[f"#r{position}"] = name
                removals.append(f"#r{position}")
            clauses.append("REMOVE " + ", ".join(removals))
        request["UpdateExpression"] = " ".join(clauses)
    condition = _compile_conditions(write.conditions, names, values)
    if condition:
        request["ConditionExpression"] = condition
    if names:
        request["ExpressionAttributeNames"] = names
    if values:
        request["ExpressionAttributeValues"] = to_item(values)
    return kind, request


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; the domain works with int."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, set):
        return {_plain(item) for item in value}
    return value


class DynamoTable:
    """:class:`Table` on DynamoDB: one write is a plain conditional call, several a transaction."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._name = table_name

    def get(self, key: Key) -> Item | None:
        response = self._client.get_item(TableName=self._name, Key=to_item(key), ConsistentRead=True)
        return _plain(from_item(response["Item"])) if "Item" in response else None

    def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        wanted = list(dict.fromkeys((key["pk"], key["sk"]) for key in keys))
        found: dict[tuple[str, str], Item] = {}
        for start in range(0, len(wanted), 100):
            pending: Any = {
                self._name: {
                    "Keys": [to_item({"pk": pk, "sk": sk}) for pk, sk in wanted[start : start + 100]],
                    "ConsistentRead": True,
                }
            }
            while pending:
                response = self._client.batch_get_item(RequestItems=pending)
                for raw in response.get("Responses", {}).get(self._name, []):
                    item = _plain(from_item(raw))
                    found[(item["pk"], item["sk"])] = item
                pending = response.get("UnprocessedKeys") or None  # throttled keys: ask again
        return [found.get((key["pk"], key["sk"])) for key in keys]

    def transact(self, writes: Sequence[Write]) -> None:
        compiled = [_compile(write, self._name) for write in writes]
        try:
            if len(compiled) == 1:
                kind, request = compiled[0]
                if kind == "Put":
                    self._client.put_item(**request)
                elif kind == "Update":
                    self._client.update_item(**request)
                else:
                    self._client.delete_item(**request)
            else:
                self._client.transact_write_items(
                    TransactItems=[{kind: request} for kind, request in compiled]  # type: ignore[misc]
                )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code == "ConditionalCheckFailedException":
                raise ConditionFailed([0]) from error
            if code == "TransactionCanceledException":
                reasons = error.response.get("CancellationReasons", [])
                failed = [i for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"]
                if failed:
                    raise ConditionFailed(failed) from error
                conflicted = [i for i, r in enumerate(reasons) if r.get("Code") == "TransactionConflict"]
                if conflicted:
                    raise TransactionConflicted(conflicted) from error
            if code == "TransactionConflictException":  # a single write met a transaction in flight
                raise TransactionConflicted([0]) from error
            raise

    def query(
        self,
        partition: str,
        *,
        index: str | None = None,
        sk_at_least: str | None = None,
        sk_at_most: str | None = None,
        sk_prefix: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        newest_first: bool = False,
    ) -> Page:
        pk_name, sk_name = key_attributes(index)
        condition = "#pk = :pk"
        values: dict[str, Any] = {":pk": partition}
        names = {"#pk": pk_name}
        if sk_at_least is not None and sk_at_most is not None:
            condition += " AND #sk BETWEEN :lo AND :sk"
            names["#sk"], values[":lo"], values[":sk"] = sk_name, sk_at_least, sk_at_most
        elif sk_at_least is not None:
            condition += " AND #sk >= :lo"
            names["#sk"], values[":lo"] = sk_name, sk_at_least
        elif sk_at_most is not None:
            condition += " AND #sk <= :sk"
            names["#sk"], values[":sk"] = sk_name, sk_at_most
        elif sk_prefix is not None:
            condition += " AND begins_with(#sk, :sk)"
            names["#sk"], values[":sk"] = sk_name, sk_prefix
        request: dict[str, Any] = {
            "TableName": self._name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item(values),
            "Limit": limit,
            "ScanIndexForward": not newest_first,
        }
        if index:
            request["IndexName"] = index
        start = decode_cursor(cursor)
        if start:
            request["ExclusiveStartKey"] = to_item(start)
        response = self._client.query(**request)
        last = response.get("LastEvaluatedKey")
        return Page(
            [_plain(from_item(item)) for item in response.get("Items", [])],
            encode_cursor(_plain(from_item(last)) if last else None),
        )
