"""Settings from the environment, secrets from Secrets Manager (or the environment locally).

On AWS the template sets ``TENANT_SECRETS_NAME``; the secret is a JSON object keyed by corp
id: ``{"<corp_id>": {"order_webhook_secret": "...", "wecom_callback_token": "...",
"wecom_encoding_aes_key": "...", "api_jwt_secret": "...",
"wecom_pay": {...}}}``. Without it (unit tests, a bare ``invoke``) the single
tenant's secrets come from ``ORDER_WEBHOOK_SECRET`` / ``WECOM_CALLBACK_TOKEN`` /
``WECOM_ENCODING_AES_KEY`` / ``API_JWT_SECRET`` for ``WECOM_CORP_ID``. A tenant's WeCom Pay
credentials are the object ``wecom_pay``: ``{"mch_id", "api_key", "payment_secret", "agent_id"}``
(plus ``cert_file`` / ``key_file`` paths of the merchant API certificate in the layer or /opt).
WeChat Pay v3 transfers are the object ``wechat_pay`` (see ``wiring.wechat_pay_config``).
Secrets are never logged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from incentives.core.clock import DEFAULT_TIME_ZONE
from incentives.orders import DEFAULT_AFTER_SALES_WINDOW_DAYS

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
    payout_queue_url: str
    payout_max_receives: int
    wechat_pay_base_url: str
    wechat_pay_timeout_seconds: float
    wecom_base_url: str
    transfer_confirm_hours: float
    """Hours a payee has to confirm a WeChat Pay transfer before the reconciler cancels it."""

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
            payout_queue_url=env.get("PAYOUT_QUEUE_URL", ""),
            payout_max_receives=int(env.get("PAYOUT_MAX_RECEIVES", "5")),
            wechat_pay_base_url=env.get("WECHAT_PAY_BASE_URL", "https://api.mch.weixin.qq.com"),
            wechat_pay_timeout_seconds=float(env.get("WECHAT_PAY_TIMEOUT_SECONDS", "5")),
            wecom_base_url=env.get("WECOM_BASE_URL", "https://qyapi.weixin.qq.com"),
            transfer_confirm_hours=float(env.get("WECHAT_TRANSFER_CONFIRM_HOURS", "24")),
        )

    @property
    def transfer_confirm_within(self) -> timedelta:
        return timedelta(hours=self.transfer_confirm_hours)


@cache
def settings() -> Settings:
    return Settings.from_env()


def _secrets_from_env() -> dict[str, dict[str, Any]]:
    env = os.environ
    values: dict[str, Any] = {
        "order_webhook_secret": env.get("ORDER_WEBHOOK_SECRET", ""),
        "wecom_callback_token": env.get("WECOM_CALLBACK_TOKEN", ""),
        "wecom_encoding_aes_key": env.get("WECOM_ENCODING_AES_KEY", ""),
        "api_jwt_secret": env.get("API_JWT_SECRET", ""),
    }
    return {env.get("WECOM_CORP_ID", DEFAULT_CORP_ID): {k: v for k, v in values.items() if v}}


def tenant_secrets() -> dict[str, dict[str, Any]]:
    """All tenants' secrets, cached for a few minutes so rotation takes effect without a deploy."""
    name = settings().tenant_secrets_name
    if not name:
        return _secrets_from_env()
    from aws_lambda_powertools.utilities import parameters

    value: Any = parameters.get_secret(name, transform="json", max_age=SECRETS_CACHE_SECONDS)
    if not isinstance(value, dict):
        raise ValueError(f"secret {name} must be a JSON object keyed by corp id")
    return value


def tenant_secret(corp_id: str, key: str) -> Any:
    """One secret of one tenant (a string, or an object such as ``wecom_pay``), or None."""
    return tenant_secrets().get(corp_id, {}).get(key) or None
