"""AWS clients, created on first use and reused by every invocation of the container.

The endpoint comes from ``AWS_ENDPOINT_URL`` when set (the local runtime), else AWS itself.
Throttling is retried by botocore's standard mode with backoff.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_secretsmanager.client import SecretsManagerClient
    from mypy_boto3_sqs.client import SQSClient

CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=2,
    read_timeout=5,
)


@cache
def dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb", config=CLIENT_CONFIG)


@cache
def sqs() -> SQSClient:
    return boto3.client("sqs", config=CLIENT_CONFIG)


@cache
def secretsmanager() -> SecretsManagerClient:
    """For secrets' metadata (listing tenants, "is it configured"); values go through Powertools."""
    return boto3.client("secretsmanager", config=CLIENT_CONFIG)


def reset() -> None:
    """Forget cached clients (after the endpoint or credentials changed, e.g. between test stacks)."""
    dynamodb.cache_clear()
    sqs.cache_clear()
    secretsmanager.cache_clear()
