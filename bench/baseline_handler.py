"""SPEC §6's reference for cold starts: a bare handler importing Powertools + boto3 + pydantic.

Exactly what the SPEC names and nothing more: the Powertools logger, boto3 and pydantic, a
logger built and a handler that returns. Every function's import + init must stay within
1.3 x of it ("what our own code adds on top of the unavoidable"). The heavier reference that
also loads the REST resolver, Swagger, batch, idempotency and parser utilities is
``bench/baseline_full_handler.py``, printed beside it.
"""

from __future__ import annotations

from typing import Any

import boto3  # noqa: F401 - its import is what is measured
import pydantic  # noqa: F401
from aws_lambda_powertools import Logger

logger = Logger(service="baseline")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.info("ping")
    return {"statusCode": 200, "body": "pong"}
