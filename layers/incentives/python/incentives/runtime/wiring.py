"""Adapters built once per container from the settings (the composition root of the layer).

Each factory imports its adapter when first called, so a function loads only the code it
uses (a scheduled job never loads the webhook models or the payment client): cold starts
stay within SPEC §6's budget.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from incentives.runtime import aws
from incentives.runtime.secrets import SecretPurpose, forget_cached_secrets, tenant_has_secret, tenant_secret
from incentives.runtime.settings import settings

if TYPE_CHECKING:
    from incentives.events.dispatch import Consumers
    from incentives.orders.aggregate import AfterSalesWindow
    from incentives.payouts.model import ProviderName
    from incentives.payouts.provider import PayoutProvider
    from incentives.payouts.wechat_notify import NotifyKeys
    from incentives.payouts.wechat_transfer import WeChatTransferConfig
    from incentives.payouts.wecom_pay import WeComPayConfig
    from incentives.signin.miniprogram import MiniProgramClient
    from incentives.signin.service import SignInPorts
    from incentives.storage.ledger import LedgerRepository
    from incentives.storage.levels import TableLevelRepository
    from incentives.storage.orders import TableOrderRepository
    from incentives.storage.payout_queue import SqsPayoutQueue
    from incentives.storage.payouts import PayoutRepository
    from incentives.storage.queue import SqsEventQueue
    from incentives.storage.raw_events import DynamoRawEventStore
    from incentives.storage.subsidy import TableSubsidyRepository
    from incentives.storage.table import DynamoTable
    from incentives.webhook.models import QueuedEvent, WeComCallbackData
    from incentives.wecom.client import WeComClient
    from incentives.wecom.crypto import CallbackCrypto


@cache
def table() -> DynamoTable:
    from incentives.storage.table import DynamoTable

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
def subsidy_repository() -> TableSubsidyRepository:
    from incentives.storage.subsidy import TableSubsidyRepository

    return TableSubsidyRepository(table(), settings().time_zone)


@cache
def raw_event_store() -> DynamoRawEventStore:
    from incentives.storage.raw_events import DynamoRawEventStore

    return DynamoRawEventStore(aws.dynamodb(), settings().table_name)


@cache
def event_queue() -> SqsEventQueue:
    from incentives.storage.queue import SqsEventQueue

    return SqsEventQueue(aws.sqs(), settings().events_queue_url)


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
    from incentives.core.errors import InvalidInput
    from incentives.payouts.wecom_pay import WeComPayConfig

    values = tenant_secret(corp_id, SecretPurpose.WECOM_PAY)
    if not values:
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


def wecom_pay_configured(corp_id: str) -> bool:
    """Whether the tenant has WeCom Pay credentials, known without reading them (the admin API
    may not read payment keys)."""
    return tenant_has_secret(corp_id, SecretPurpose.WECOM_PAY)


def wechat_pay_config(corp_id: str) -> WeChatTransferConfig | None:
    """The tenant's WeChat Pay v3 credentials (transfers to a user's wallet), or None when absent.

    Its ``wechat-pay`` secret: ``mch_id``, ``appid``, ``serial_no``, ``private_key_pem``; optional
    ``transfer_scene_id`` (``1000``), ``scene_report_infos`` (``[{"info_type", "info_content"}]``),
    ``user_recv_perception``, ``notify_url`` (this stack's ``/payments/wechat/notify/<corp_id>``),
    ``api_v3_key`` (decrypts notifications), ``wechatpay_public_key_pem`` and
    ``wechatpay_public_key_id`` (``PUB_KEY_ID_…``: answers and notifications must verify with it).
    """
    from incentives.core.errors import InvalidInput
    from incentives.payouts.wechat_transfer import WeChatTransferConfig

    values = tenant_secret(corp_id, SecretPurpose.WECHAT_PAY)
    if not values:
        return None
    optional: dict[str, Any] = {
        key: str(values[key])
        for key in (
            "transfer_scene_id",
            "user_recv_perception",
            "notify_url",
            "api_v3_key",
            "wechatpay_public_key_pem",
            "wechatpay_public_key_id",
        )
        if values.get(key)
    }
    try:
        if values.get("scene_report_infos"):
            optional["scene_report_infos"] = tuple(
                (str(info["info_type"]), str(info["info_content"])) for info in values["scene_report_infos"]
            )
        return WeChatTransferConfig(
            mch_id=str(values["mch_id"]),
            appid=str(values["appid"]),
            serial_no=str(values["serial_no"]),
            private_key_pem=str(values["private_key_pem"]),
            base_url=settings().wechat_pay_base_url,
            timeout_seconds=settings().wechat_pay_timeout_seconds,
            **optional,
        )
    except KeyError as missing:
        raise InvalidInput(f"wechat_pay of {corp_id} lacks {missing}", field="wechat_pay") from None
    except TypeError:
        raise InvalidInput(
            f"wechat_pay of {corp_id}: scene_report_infos must be a list of objects", field="wechat_pay"
        ) from None


def wechat_pay_notify_keys(corp_id: str) -> NotifyKeys:
    """What the tenant needs to trust and read WeChat Pay's notifications; an unknown tenant or one
    without the WeChat Pay public key and APIv3 key is refused like a bad signature."""
    from incentives.core.errors import Unauthenticated
    from incentives.payouts.wechat_notify import NotifyKeys

    values: Any = tenant_secret(corp_id, SecretPurpose.WECHAT_PAY_NOTIFY)
    needed = ("mch_id", "wechatpay_public_key_pem", "wechatpay_public_key_id", "api_v3_key")
    if not isinstance(values, dict) or not all(values.get(key) for key in needed):
        raise Unauthenticated(
            f"no WeChat Pay public key and APIv3 key for corp {corp_id}", field="Wechatpay-Serial"
        )
    return NotifyKeys(*(str(values[key]) for key in needed))


@cache
def payout_providers(corp_id: str) -> dict[ProviderName, PayoutProvider]:
    """The providers configured for a tenant (offline payouts need none)."""
    from incentives.payouts.model import ProviderName
    from incentives.payouts.wecom_pay import WeComPayToEmployee

    providers: dict[ProviderName, PayoutProvider] = {}
    config = wecom_pay_config(corp_id)
    if config is not None:
        providers[ProviderName.WECOM_PAY] = WeComPayToEmployee(config)
    transfer_config = wechat_pay_config(corp_id)
    if transfer_config is not None:
        from incentives.core.errors import InvalidInput
        from incentives.payouts.wechat_transfer import WeChatTransfer

        try:
            providers[ProviderName.WECHAT_TRANSFER] = WeChatTransfer(transfer_config)
        except (ValueError, TypeError):
            raise InvalidInput(
                f"wechat_pay of {corp_id}: private_key_pem or wechatpay_public_key_pem is not an RSA key",
                field="wechat_pay",
            ) from None
    return providers


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
    from incentives.webhook.models import QueuedEvent, WeComCallbackEvent

    return QueuedEvent(
        corp_id=callback.corp_id,
        received_at=now,
        event=WeComCallbackEvent(event_id=identity, type="wecom.callback", occurred_at=now, data=callback),
    )


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


def sign_in_ports() -> SignInPorts:
    from incentives.signin.service import SignInPorts

    return SignInPorts(
        table=table(),
        wecom_client=wecom_client,
        miniprogram_client=miniprogram_client,
        api_secret=lambda corp_id: tenant_secret(corp_id, SecretPurpose.API).get("api_jwt_secret"),
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
        subsidy_repository,
        raw_event_store,
        event_queue,
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
