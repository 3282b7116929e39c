"""Settings from the environment (the template sets them on AWS, the local runtime from it).

Tenant secrets are read through :mod:`incentives.runtime.secrets`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache

from incentives.core.clock import DEFAULT_TIME_ZONE
from incentives.orders import DEFAULT_AFTER_SALES_WINDOW_DAYS

DEFAULT_CORP_ID = "ww-local-corp"


@dataclass(frozen=True)
class Settings:
    table_name: str
    events_queue_url: str
    default_corp_id: str
    tenant_secrets_prefix: str | None
    after_sales_window_days: int
    time_zone: str
    payout_queue_url: str
    payout_max_receives: int
    wechat_pay_base_url: str
    wechat_pay_timeout_seconds: float
    wecom_base_url: str
    transfer_confirm_hours: float
    """Hours a payee has to confirm a WeChat Pay transfer before the reconciler cancels it."""
    miniprogram_base_url: str = "https://api.weixin.qq.com"
    work_queue_urls: dict[str, str] = field(default_factory=dict)
    """Each scheduled job's own work queue (its shard and item messages): ``<JOB>_WORK_QUEUE_URL``
    variable → URL, each job function given its own."""

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            table_name=env.get("TABLE_NAME", "incentives"),
            events_queue_url=env.get("EVENTS_QUEUE_URL", ""),
            default_corp_id=env.get("WECOM_CORP_ID", DEFAULT_CORP_ID),
            tenant_secrets_prefix=env.get("TENANT_SECRETS_PREFIX") or None,
            after_sales_window_days=int(env.get("AFTER_SALES_WINDOW_DAYS", DEFAULT_AFTER_SALES_WINDOW_DAYS)),
            time_zone=env.get("MERCHANT_TIME_ZONE", DEFAULT_TIME_ZONE),
            payout_queue_url=env.get("PAYOUT_QUEUE_URL", ""),
            payout_max_receives=int(env.get("PAYOUT_MAX_RECEIVES", "5")),
            wechat_pay_base_url=env.get("WECHAT_PAY_BASE_URL", "https://api.mch.weixin.qq.com"),
            wechat_pay_timeout_seconds=float(env.get("WECHAT_PAY_TIMEOUT_SECONDS", "5")),
            wecom_base_url=env.get("WECOM_BASE_URL", "https://qyapi.weixin.qq.com"),
            miniprogram_base_url=env.get("MINIPROGRAM_BASE_URL", "https://api.weixin.qq.com"),
            transfer_confirm_hours=float(env.get("WECHAT_TRANSFER_CONFIRM_HOURS", "24")),
            work_queue_urls={name: url for name, url in env.items() if name.endswith("_WORK_QUEUE_URL")},
        )

    @property
    def transfer_confirm_within(self) -> timedelta:
        return timedelta(hours=self.transfer_confirm_hours)


@cache
def settings() -> Settings:
    return Settings.from_env()
