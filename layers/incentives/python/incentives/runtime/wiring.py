"""Adapters built once per container from the settings (the composition root of the layer).

Each factory imports its adapter when first called, so a function loads only the code it
uses (a scheduled job never loads the webhook models or the payment client): cold starts
stay within SPEC §6's budget.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from incentives.runtime import aws
from incentives.runtime.secrets import SecretPurpose, forget_cached_secrets, tenant_has_secret, tenant_secret
from incentives.runtime.settings import settings

if TYPE_CHECKING:
    from incentives.events.dispatch import Consumers
    from incentives.messages.internal import WeComCallbackData
    from incentives.messages.queued import QueuedEvent
    from incentives.orders.aggregate import AfterSalesWindow
    from incentives.payouts.model import ProviderName
    from incentives.payouts.provider import PayoutProvider
    from incentives.payouts.wechat_notify import NotifyKeys
    from incentives.payouts.wechat_transfer import WeChatTransferConfig
    from incentives.payouts.wecom_pay import WeComPayConfig
    from incentives.signin.miniprogram import MiniProgramClient
    from incentives.signin.service import SignInPorts
    from incentives.storage.due import TableDueIndex
    from incentives.storage.dynamo_table import DynamoTable
    from incentives.storage.event_chunks import TableBodyChunkStore
    from incentives.storage.guides import TableGuideRepository
    from incentives.storage.ledger import LedgerRepository
    from incentives.storage.levels import TableLevelRepository
    from incentives.storage.orders import TableOrderRepository
    from incentives.storage.org import TableOrgRepository
    from incentives.storage.payout_queue import SqsPayoutQueue
    from incentives.storage.payouts import PayoutRepository
    from incentives.storage.queue import SqsEventQueue
    from incentives.storage.raw_events import DynamoRawEventStore
    from incentives.storage.subsidy import TableSubsidyRepository
    from incentives.storage.tags import TableTagRepository
    from incentives.storage.work_queue import SqsWorkQueue
    from incentives.wecom.client import WeComClient
    from incentives.wecom.crypto import CallbackCrypto


@cache
def table() -> DynamoTable:
    from incentives.storage.dynamo_table import DynamoTable

    return DynamoTable(aws.dynamodb(), settings().table_name)


@cache
def order_repository() -> TableOrderRepository:
    from incentives.storage.orders import TableOrderRepository

    return TableOrderRepository(table())


@cache
def level_repository() -> TableLevelRepository:
    from incentives.storage.levels import TableLevelRepository

    return TableLevelRepository(table())


@cache
def guide_repository() -> TableGuideRepository:
    from incentives.storage.guides import TableGuideRepository

    return TableGuideRepository(table())


@cache
def org_repository() -> TableOrgRepository:
    from incentives.storage.org import TableOrgRepository

    return TableOrgRepository(table())


@cache
def tag_repository() -> TableTagRepository:
    from incentives.storage.tags import TableTagRepository

    return TableTagRepository(table())


@cache
def subsidy_repository() -> TableSubsidyRepository:
    from incentives.storage.subsidy import TableSubsidyRepository

    return TableSubsidyRepository(table(), settings().time_zone)


@cache
def raw_event_store() -> DynamoRawEventStore:
    from incentives.storage.raw_events import DynamoRawEventStore

    return DynamoRawEventStore(aws.dynamodb(), settings().table_name)


@cache
def body_chunk_store() -> TableBodyChunkStore:
    from incentives.storage.event_chunks import TableBodyChunkStore

    return TableBodyChunkStore(table())


@cache
def event_queue() -> SqsEventQueue:
    from incentives.storage.queue import SqsEventQueue

    return SqsEventQueue(aws.sqs(), settings().events_queue_url)


@cache
def due_index() -> TableDueIndex:
    from incentives.storage.due import TableDueIndex

    return TableDueIndex(table())


@cache
def work_queue(variable: str) -> SqsWorkQueue:
    """A scheduled job's work queue, by the variable that holds its URL (``<JOB>_WORK_QUEUE_URL``)."""
    from incentives.core.errors import InvalidInput
    from incentives.storage.work_queue import SqsWorkQueue

    url = settings().work_queue_urls.get(variable)
    if not url:
        raise InvalidInput(f"{variable} is not set: the job has no work queue", field=variable)
    return SqsWorkQueue(aws.sqs(), url)


@cache
def ledger_repository() -> LedgerRepository:
    from incentives.storage.ledger import LedgerRepository

    return LedgerRepository(table())


@cache
def payout_repository() -> PayoutRepository:
    from incentives.storage.payouts import PayoutRepository

    return PayoutRepository(table())


@cache
def payout_queue() -> SqsPayoutQueue:
    from incentives.storage.payout_queue import SqsPayoutQueue

    return SqsPayoutQueue(aws.sqs(), settings().payout_queue_url)


def after_sales_window() -> AfterSalesWindow:
    from incentives.orders.aggregate import AfterSalesWindow

    return AfterSalesWindow(days=settings().after_sales_window_days)


def wecom_pay_config(corp_id: str) -> WeComPayConfig | None:
    """The tenant's WeCom Pay credentials, or None when WeCom Pay is not configured."""
    from incentives.payouts import config

    return config.wecom_pay_config(
        corp_id,
        tenant_secret(corp_id, SecretPurpose.WECOM_PAY),
        base_url=settings().wechat_pay_base_url,
        timeout_seconds=settings().wechat_pay_timeout_seconds,
    )


def wecom_pay_configured(corp_id: str) -> bool:
    """Whether the tenant has WeCom Pay credentials, known without reading them (the admin API
    may not read payment keys)."""
    return tenant_has_secret(corp_id, SecretPurpose.WECOM_PAY)


def wechat_pay_config(corp_id: str) -> WeChatTransferConfig | None:
    """The tenant's WeChat Pay v3 credentials, or None when absent (``payouts.config``)."""
    from incentives.payouts import config

    return config.wechat_pay_config(
        corp_id,
        tenant_secret(corp_id, SecretPurpose.WECHAT_PAY),
        base_url=settings().wechat_pay_base_url,
        timeout_seconds=settings().wechat_pay_timeout_seconds,
    )


def wechat_pay_notify_keys(corp_id: str) -> NotifyKeys:
    """What the tenant needs to trust and read WeChat Pay's notifications (``payouts.config``)."""
    from incentives.payouts import config

    return config.notify_keys(corp_id, tenant_secret(corp_id, SecretPurpose.WECHAT_PAY_NOTIFY))


@cache
def payout_providers(corp_id: str) -> dict[ProviderName, PayoutProvider]:
    """The providers configured for a tenant (offline payouts need none)."""
    from incentives.payouts import config

    return config.payout_providers(corp_id, wecom_pay_config(corp_id), wechat_pay_config(corp_id))


@cache
def wecom_client(corp_id: str) -> WeComClient:
    """The tenant's WeCom API client (``wecom_secret`` of its ``wecom-app`` secret)."""
    from incentives.core.clock import SystemClock
    from incentives.core.errors import InvalidInput
    from incentives.storage.tokens import TableTokenCache
    from incentives.wecom.client import WeComClient

    secret = tenant_secret(corp_id, SecretPurpose.WECOM_APP).get("wecom_secret")
    if not secret:
        raise InvalidInput(f"WeCom is not configured for {corp_id} (wecom_secret)", field="wecom_secret")
    return WeComClient(
        corp_id, str(secret), TableTokenCache(table()), SystemClock(), base_url=settings().wecom_base_url
    )


@cache
def consumers() -> Consumers:
    """The event backbone's consumers over the AWS adapters (the simulation builds the same ones)."""
    from incentives.core.clock import SystemClock
    from incentives.events.consumers import EventPorts, build_consumers

    return build_consumers(
        EventPorts(
            table=table(),
            ledger=ledger_repository(),
            orders=order_repository(),
            payouts=payout_repository(),
            payout_queue=payout_queue(),
            emit=event_queue().send,
            wecom_client=wecom_client,
            clock=SystemClock(),
            time_zone=settings().time_zone,
            window=after_sales_window(),
        )
    )


@cache
def callback_crypto(corp_id: str) -> CallbackCrypto:
    """The tenant's callback crypto; an unknown tenant is refused like a bad signature."""
    from incentives.core.errors import Unauthenticated
    from incentives.wecom.crypto import CallbackCrypto

    secret = tenant_secret(corp_id, SecretPurpose.WECOM_CALLBACK)
    token, key = secret.get("wecom_callback_token"), secret.get("wecom_encoding_aes_key")
    if not token or not key:
        raise Unauthenticated(f"no WeCom callback secrets for corp {corp_id}", field="ToUserName")
    return CallbackCrypto(str(token), str(key), corp_id)


def wecom_callback_event(callback: WeComCallbackData, identity: str, now: datetime) -> QueuedEvent:
    """The queued message for a verified WeCom callback (``events.routing``)."""
    from incentives.events.routing import wecom_callback_event

    return wecom_callback_event(callback, identity, now)


@cache
def miniprogram_client(corp_id: str) -> MiniProgramClient:
    """The tenant's mini-program login client (``miniprogram_appid`` / ``miniprogram_secret``)."""
    from incentives.core.errors import InvalidInput
    from incentives.signin.miniprogram import MiniProgramClient

    values = tenant_secret(corp_id, SecretPurpose.MINIPROGRAM)
    appid, secret = values.get("miniprogram_appid"), values.get("miniprogram_secret")
    if not appid or not secret:
        raise InvalidInput(
            f"mini-program sign-in is not configured for {corp_id} (miniprogram_appid, miniprogram_secret)",
            field="X-Corp-Id",
        )
    return MiniProgramClient(str(appid), str(secret), base_url=settings().miniprogram_base_url)


def api_jwt_secret(corp_id: str) -> str | None:
    """The key the tenant's API tokens are signed with (``api_jwt_secret`` of its ``api`` secret)."""
    secret = tenant_secret(corp_id, SecretPurpose.API).get("api_jwt_secret")
    return str(secret) if secret else None


def sign_in_ports() -> SignInPorts:
    from incentives.signin.service import SignInPorts
    from incentives.storage.signin import TableSessions, TableStaffList

    return SignInPorts(
        sessions=TableSessions(table()),
        staff=TableStaffList(table()),
        wecom_client=wecom_client,
        miniprogram_client=miniprogram_client,
        api_secret=api_jwt_secret,
    )


def reset() -> None:
    """Forget every cached adapter and setting (the local runtime and tests switch stacks)."""
    aws.reset()
    settings.cache_clear()
    forget_cached_secrets()
    for factory in (
        table,
        order_repository,
        level_repository,
        guide_repository,
        org_repository,
        tag_repository,
        subsidy_repository,
        raw_event_store,
        body_chunk_store,
        event_queue,
        due_index,
        work_queue,
        ledger_repository,
        payout_repository,
        payout_queue,
        payout_providers,
        callback_crypto,
        consumers,
        wecom_client,
        miniprogram_client,
    ):
        factory.cache_clear()
