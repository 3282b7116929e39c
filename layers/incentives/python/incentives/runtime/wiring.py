"""Adapters built once per container from the settings (the composition root of the layer)."""

from __future__ import annotations

from functools import cache
from typing import Any

from incentives.core.errors import InvalidInput
from incentives.orders.aggregate import AfterSalesWindow
from incentives.payouts.model import ProviderName
from incentives.payouts.provider import PayoutProvider
from incentives.payouts.wecom_pay import WeComPayConfig, WeComPayToEmployee
from incentives.runtime import aws
from incentives.runtime.settings import settings, tenant_secret
from incentives.storage.ledger import LedgerRepository
from incentives.storage.orders import DynamoOrderRepository
from incentives.storage.payout_queue import SqsPayoutQueue
from incentives.storage.payouts import PayoutRepository
from incentives.storage.queue import SqsEventQueue
from incentives.storage.raw_events import DynamoRawEventStore
from incentives.storage.table import DynamoTable


@cache
def table() -> DynamoTable:
    return DynamoTable(aws.dynamodb(), settings().table_name)


@cache
def order_repository() -> DynamoOrderRepository:
    return DynamoOrderRepository(aws.dynamodb(), settings().table_name)


@cache
def raw_event_store() -> DynamoRawEventStore:
    return DynamoRawEventStore(aws.dynamodb(), settings().table_name)


@cache
def event_queue() -> SqsEventQueue:
    return SqsEventQueue(aws.sqs(), settings().events_queue_url)


@cache
def ledger_repository() -> LedgerRepository:
    return LedgerRepository(table())


@cache
def payout_repository() -> PayoutRepository:
    return PayoutRepository(table())


@cache
def payout_queue() -> SqsPayoutQueue:
    return SqsPayoutQueue(aws.sqs(), settings().payout_queue_url)


def after_sales_window() -> AfterSalesWindow:
    return AfterSalesWindow(days=settings().after_sales_window_days)


def wecom_pay_config(corp_id: str) -> WeComPayConfig | None:
    """The tenant's WeCom Pay credentials, or None when WeCom Pay is not configured."""
    values: Any = tenant_secret(corp_id, "wecom_pay")
    if not isinstance(values, dict):
        return None
    try:
        return WeComPayConfig(
            corp_id=corp_id,
            mch_id=str(values["mch_id"]),
            api_key=str(values["api_key"]),
            payment_secret=str(values["payment_secret"]),
            agent_id=str(values["agent_id"]),
            base_url=settings().wechat_pay_base_url,
            cert_file=values.get("cert_file"),
            key_file=values.get("key_file"),
            timeout_seconds=settings().wechat_pay_timeout_seconds,
        )
    except KeyError as missing:
        raise InvalidInput(f"wecom_pay of {corp_id} lacks {missing}", field="wecom_pay") from None


@cache
def payout_providers(corp_id: str) -> dict[ProviderName, PayoutProvider]:
    """The providers configured for a tenant (offline payouts need none)."""
    providers: dict[ProviderName, PayoutProvider] = {}
    config = wecom_pay_config(corp_id)
    if config is not None:
        providers[ProviderName.WECOM_PAY] = WeComPayToEmployee(config)
    return providers


def reset() -> None:
    """Forget every cached adapter and setting (the local runtime and tests switch stacks)."""
    from incentives.runtime.settings import settings as cached_settings

    aws.reset()
    cached_settings.cache_clear()
    for factory in (
        table,
        order_repository,
        raw_event_store,
        event_queue,
        ledger_repository,
        payout_repository,
        payout_queue,
        payout_providers,
    ):
        factory.cache_clear()
