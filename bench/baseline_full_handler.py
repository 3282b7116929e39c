"""A heavier reference for cold starts, shown beside the budget's (``bench/baseline_handler.py``).

It imports the Powertools utilities the design card builds functions on (logger, metrics,
tracer, the REST resolver with pydantic validation, its parameter types and its OpenAPI /
Swagger UI, SQS batch processing, idempotency, parser), boto3 and pydantic, and does nothing
else. It is not SPEC §6's bare handler: measured against it, a function looks cheaper than it
is, so ``bench.cold_start`` prints it for reference only.
"""

from __future__ import annotations

from typing import Any

import boto3  # noqa: F401 - its import is what is measured
import pydantic  # noqa: F401
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Query  # noqa: F401
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType  # noqa: F401
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig  # noqa: F401
from aws_lambda_powertools.utilities.parser import event_parser  # noqa: F401

logger = Logger(service="baseline-full")
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver(enable_validation=True)
app.enable_swagger(path="/swagger")  # the design card's OpenAPI document and Swagger UI


@app.get("/ping")
def ping() -> dict[str, str]:
    return {"pong": "yes"}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
