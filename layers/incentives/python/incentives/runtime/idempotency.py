"""The one request-level idempotency mechanism: Powertools idempotency on a DynamoDB table.

Used where an *answer* must be repeated (the webhook acknowledges a duplicate with the same
response). Effects on aggregates are deduplicated inside the aggregate's own conditional
write instead, because a separate record cannot be written atomically with the effect.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from incentives.core.errors import Conflict, RetryLater
from incentives.runtime import aws
from incentives.runtime.settings import settings

Result = TypeVar("Result")

_configs: list[IdempotencyConfig] = []


def register_lambda_context(context: Any) -> None:
    """Let in-progress records expire with the invocation, so a crashed attempt does not block retries."""
    for config in _configs:
        config.register_lambda_context(context)


def once_per_key(
    name: str, key_jmespath: str, payload_jmespath: str
) -> Callable[[Callable[..., Result]], Callable[..., Result]]:
    """Run the decorated function once per key of its ``request`` argument; repeat its answer after.

    A repeat whose ``payload_jmespath`` value differs raises ``Conflict``; a repeat while the
    first is still running raises ``RetryLater``.
    """
    config = IdempotencyConfig(
        event_key_jmespath=key_jmespath,
        payload_validation_jmespath=payload_jmespath,
        expires_after_seconds=int(os.environ.get("IDEMPOTENCY_EXPIRY_SECONDS", 7 * 24 * 3600)),
        raise_on_no_idempotency_key=True,
    )
    _configs.append(config)

    def decorate(function: Callable[..., Result]) -> Callable[..., Result]:
        built: dict[int, Callable[..., Any]] = {}

        def guarded() -> Callable[..., Any]:
            # Built on first use (no client at import), rebuilt only if the client changes.
            client = aws.dynamodb()
            if id(client) not in built:
                built.clear()
                persistence = DynamoDBPersistenceLayer(
                    table_name=settings().idempotency_table_name, boto3_client=client
                )
                built[id(client)] = idempotent_function(
                    function,
                    data_keyword_argument="request",
                    persistence_store=persistence,
                    config=config,
                    key_prefix=name,
                )
            return built[id(client)]

        @wraps(function)
        def run(*, request: dict[str, Any], **kwargs: Any) -> Result:
            try:
                return guarded()(request=request, **kwargs)  # type: ignore[no-any-return]
            except IdempotencyValidationError as error:
                raise Conflict(
                    "this id was already used with a different payload", field="event_id"
                ) from error
            except IdempotencyAlreadyInProgressError as error:
                raise RetryLater("the same request is being processed; retry shortly") from error

        return run

    return decorate
