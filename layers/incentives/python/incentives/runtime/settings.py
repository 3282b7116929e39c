"""Settings from the environment, secrets from Secrets Manager (or the environment locally).

On AWS the template sets ``TENANT_SECRETS_NAME``; the secret is a JSON object keyed by corp
id: ``{"<corp_id>": {"order_webhook_secret": "...", "wecom_callback_token": "...",
"wecom_encoding_aes_key": "..."}}``. Without it (unit tests, a bare ``invoke``) the single
tenant's secrets come from ``ORDER_WEBHOOK_SECRET`` / ``WECOM_CALLBACK_TOKEN`` /
``WECOM_ENCODING_AES_KEY`` for ``WECOM_CORP_ID``. Secrets are never logged.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from typing import Any

from incentives.core.clock import DEFAULT_TIME_ZONE
from incentives.orders.aggregate import DEFAULT_AFTER_SALES_WINDOW_DAYS

SECRETS_CACHE_SECONDS = 300
DEFAULT_CORP_ID = "ww-local-corp"


@dataclass(frozen=True)
class Settings:
    table_name: str
    idempotency_table_name: str
    events_queue_url: str
    default_corp_id: str
    tenant_secrets_name: str | None
    after_sales_window_days: int
    time_zone: str

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            table_name=env.get("TABLE_NAME", "incentives"),
            idempotency_table_name=env.get("IDEMPOTENCY_TABLE_NAME", "incentives-idempotency"),
            events_queue_url=env.get("EVENTS_QUEUE_URL", ""),
            default_corp_id=env.get("WECOM_CORP_ID", DEFAULT_CORP_ID),
            tenant_secrets_name=env.get("TENANT_SECRETS_NAME") or None,
            after_sales_window_days=int(env.get("AFTER_SALES_WINDOW_DAYS", DEFAULT_AFTER_SALES_WINDOW_DAYS)),
            time_zone=env.get("MERCHANT_TIME_ZONE", DEFAULT_TIME_ZONE),
        )


@cache
def settings() -> Settings:
    return Settings.from_env()


def _secrets_from_env() -> dict[str, dict[str, str]]:
    env = os.environ
    values = {
        "order_webhook_secret": env.get("ORDER_WEBHOOK_SECRET", ""),
        "wecom_callback_token": env.get("WECOM_CALLBACK_TOKEN", ""),
        "wecom_encoding_aes_key": env.get("WECOM_ENCODING_AES_KEY", ""),
    }
    return {env.get("WECOM_CORP_ID", DEFAULT_CORP_ID): {k: v for k, v in values.items() if v}}


def tenant_secrets() -> dict[str, dict[str, str]]:
    """All tenants' secrets, cached for a few minutes so rotation takes effect without a deploy."""
    name = settings().tenant_secrets_name
    if not name:
        return _secrets_from_env()
    from aws_lambda_powertools.utilities import parameters

    value: Any = parameters.get_secret(name, transform="json", max_age=SECRETS_CACHE_SECONDS)
    if not isinstance(value, dict):
        raise ValueError(f"secret {name} must be a JSON object keyed by corp id")
    return value


def tenant_secret(corp_id: str, key: str) -> str | None:
    return tenant_secrets().get(corp_id, {}).get(key) or None


def render_secret_document(tenants: dict[str, dict[str, str]]) -> str:
    """The JSON the tenant secret holds (used by the local runtime to seed it)."""
    return json.dumps(tenants, sort_keys=True)
