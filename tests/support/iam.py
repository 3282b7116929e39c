"""What IAM would allow: the template's policy statements, evaluated for the AWS calls functions make.

Enough of IAM's evaluation for this template, and strict about the rest: Allow statements only
(the template has no Deny), ``*`` / ``?`` wildcards in actions and resources, and the one
condition the template uses, ``ForAllValues:StringLike`` on ``dynamodb:LeadingKeys``. Anything
else fails loudly, so a new construct in the template is evaluated, never guessed.

:class:`CallRecorder` turns the botocore calls a function makes into the requests IAM
authorizes: a transaction is one request per item (``TransactWriteItems`` is authorized as
``PutItem``, ``UpdateItem``, ``DeleteItem``, ``ConditionCheckItem`` on each item), a batch one
request per table with every partition key, and a secret is addressed by its full ARN (with
the six random characters) when it exists, by ``secret:<name>`` when it does not, as Secrets
Manager does.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import botocore.client
from botocore.exceptions import ClientError

from infra.local.template import Resolver, Stack

SUPPORTED_CONDITIONS = {"ForAllValues:StringLike"}
SUPPORTED_CONDITION_KEYS = {"dynamodb:LeadingKeys"}


@dataclass(frozen=True)
class Request:
    """One authorization request: an action on a resource, with the partition keys it touches."""

    action: str
    resource: str
    leading_keys: tuple[str, ...] | None = None

    def __str__(self) -> str:
        keys = f" keys={list(self.leading_keys)}" if self.leading_keys is not None else ""
        return f"{self.action} on {self.resource}{keys}"


@cache
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's matching: ``*`` any run of characters (``/`` and ``:`` included), ``?`` exactly one."""
    return _wildcard(pattern, ignore_case).fullmatch(value) is not None


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Statement:
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: Mapping[str, Mapping[str, Any]]

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> Statement:
        unknown = set(document) - {"Sid", "Effect", "Action", "Resource", "Condition"}
        if document.get("Effect") != "Allow" or unknown:
            raise ValueError(f"only Allow statements with Action / Resource / Condition: {document}")
        condition = document.get("Condition", {})
        for operator, keys in condition.items():
            if operator not in SUPPORTED_CONDITIONS or set(keys) - SUPPORTED_CONDITION_KEYS:
                raise ValueError(f"condition not evaluated here: {operator} {list(keys)}")
        return cls(
            document.get("Sid", ""),
            tuple(str(action) for action in _listed(document["Action"])),
            tuple(str(resource) for resource in _listed(document["Resource"])),
            condition,
        )

    def allows(self, request: Request) -> bool:
        if not any(wildcard_match(action, request.action, ignore_case=True) for action in self.actions):
            return False
        if not any(wildcard_match(resource, request.resource) for resource in self.resources):
            return False
        return all(self._condition_holds(operator, request) for operator in self.condition)

    def _condition_holds(self, operator: str, request: Request) -> bool:
        patterns = [str(pattern) for pattern in _listed(self.condition[operator]["dynamodb:LeadingKeys"])]
        if request.leading_keys is None:
            return False  # a request whose partition keys are not known is not proven allowed
        return all(any(wildcard_match(p, key) for p in patterns) for key in request.leading_keys)


def function_statements(stack: Stack, resolver: Resolver, function: str) -> list[Statement]:
    """A function's policy statements with intrinsics resolved (inline ``Statement`` lists only)."""
    statements = []
    for policy in stack.document["Resources"][function]["Properties"].get("Policies", []):
        if not isinstance(policy, dict) or set(policy) != {"Statement"}:
            raise ValueError(f"{function}: only inline statements are evaluated here, not {policy}")
        statements.extend(Statement.of(resolver.resolve(statement)) for statement in policy["Statement"])
    return statements


def allowing(statements: list[Statement], request: Request) -> list[Statement]:
    return [statement for statement in statements if statement.allows(request)]


# --- botocore calls → IAM requests ----------------------------------------------------------------

_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


@dataclass
class AwsAccount:
    """How names become ARNs on the local endpoint, and each table's partition key."""

    region: str
    account_id: str
    partition_keys: dict[str, str]
    """table name → the name of its partition key attribute"""

    def table_arn(self, name: str, index: str | None = None) -> str:
        arn = f"arn:aws:dynamodb:{self.region}:{self.account_id}:table/{name}"
        return f"{arn}/index/{index}" if index else arn

    def queue_arn(self, url: str) -> str:
        return f"arn:aws:sqs:{self.region}:{self.account_id}:{url.rstrip('/').rsplit('/', 1)[-1]}"

    def bare_secret_arn(self, name: str) -> str:
        return f"arn:aws:secretsmanager:{self.region}:{self.account_id}:secret:{name}"

    def leading_key(self, table: str, key: Mapping[str, Any]) -> str:
        value = key[self.partition_keys[table]]
        return str(value.get("S", value.get("N", value.get("B"))) if isinstance(value, dict) else value)

    def requests(
        self, service: str, operation: str, params: Mapping[str, Any], outcome: Mapping[str, Any] | None
    ) -> list[Request]:
        """The requests IAM authorizes for one call (``outcome``: the response, None on an error)."""
        action = f"{service}:{operation}"
        if service == "dynamodb":
            return self._dynamodb(operation, params)
        if service == "sqs":
            sends = operation in ("SendMessage", "SendMessageBatch")
            return [Request("sqs:SendMessage" if sends else action, self.queue_arn(params["QueueUrl"]))]
        if service == "secretsmanager":
            if operation in ("ListSecrets", "BatchGetSecretValue"):
                return [Request(action, "*")]
            arn = (outcome or {}).get("ARN") or self.bare_secret_arn(str(params["SecretId"]))
            return [Request(action, str(arn))]
        return [Request(action, "(not mapped to a resource here)")]  # allowed by no statement: reported

    def _dynamodb(self, operation: str, params: Mapping[str, Any]) -> list[Request]:
        if operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
            table = params["TableName"]
            key = params["Item"] if operation == "PutItem" else params["Key"]
            return [Request(f"dynamodb:{operation}", self.table_arn(table), (self.leading_key(table, key),))]
        if operation in ("TransactWriteItems", "TransactGetItems"):
            requests = []
            for entry in params["TransactItems"]:
                ((kind, item),) = entry.items()
                table = item["TableName"]
                key = item["Item"] if kind == "Put" else item["Key"]
                requests.append(
                    Request(
                        f"dynamodb:{_TRANSACT_ACTIONS[kind]}",
                        self.table_arn(table),
                        (self.leading_key(table, key),),
                    )
                )
            return requests
        if operation in ("BatchGetItem", "BatchWriteItem"):
            requests = []
            for table, batch in params["RequestItems"].items():
                if operation == "BatchGetItem":
                    keys = batch["Keys"]
                else:
                    keys = [
                        write["PutRequest"]["Item"]
                        if "PutRequest" in write
                        else write["DeleteRequest"]["Key"]
                        for write in batch
                    ]
                leading = tuple(sorted({self.leading_key(table, key) for key in keys}))
                requests.append(Request(f"dynamodb:{operation}", self.table_arn(table), leading))
            return requests
        if operation in ("Query", "Scan"):
            # Partition keys of a query are left unknown: a statement conditioned on them does not allow it.
            return [
                Request(f"dynamodb:{operation}", self.table_arn(params["TableName"], params.get("IndexName")))
            ]
        return [Request(f"dynamodb:{operation}", self.table_arn(params["TableName"]))]


@dataclass
class Recorded:
    function: str
    requests: list[Request]


@dataclass
class CallRecorder:
    """Records, per function invocation, the IAM requests of every AWS call made inside it."""

    account: AwsAccount
    calls: list[Recorded] = field(default_factory=list)
    _current: contextvars.ContextVar[str | None] = field(
        default_factory=lambda: contextvars.ContextVar("function", default=None)
    )

    @contextmanager
    def installed(self) -> Iterator[None]:
        original: Callable[..., Any] = botocore.client.BaseClient._make_api_call
        recorder = self

        def recording(client: Any, operation: str, params: Mapping[str, Any]) -> Any:
            function = recorder._current.get()
            if function is None:
                return original(client, operation, params)
            service = client.meta.service_model.service_name
            try:
                outcome = original(client, operation, params)
            except ClientError:
                recorder.calls.append(
                    Recorded(function, recorder.account.requests(service, operation, params, None))
                )
                raise
            recorder.calls.append(
                Recorded(function, recorder.account.requests(service, operation, params, outcome))
            )
            return outcome

        botocore.client.BaseClient._make_api_call = recording  # type: ignore[method-assign]
        try:
            yield
        finally:
            botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]

    @contextmanager
    def inside(self, function: str) -> Iterator[None]:
        token = self._current.set(function)
        try:
            yield
        finally:
            self._current.reset(token)

    def requests_of(self, function: str) -> list[Request]:
        return [request for call in self.calls if call.function == function for request in call.requests]

    def clear(self) -> None:
        self.calls.clear()
