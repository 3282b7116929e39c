"""Sandbox servers of external services, started and stopped with the local stack.

Each sandbox is a small HTTP server on loopback imitating a SaaS we cannot reach offline.
An entry names the template parameter holding that service's base URL, so the functions'
real clients are pointed at the sandbox locally and at the real service on AWS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from infra.local.config import LocalConfig


class Sandbox(Protocol):
    name: str
    base_url: str
    resets: list[Callable[[], None]]
    """What its ``POST /sandbox/reset`` resets (the local stack makes it every sandbox's books)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class SandboxEntry:
    parameter: str
    """The template parameter with the service's base URL (overridden locally)."""
    url: Callable[[LocalConfig], str]
    build: Callable[[LocalConfig], Sandbox]


def _payments(config: LocalConfig) -> Sandbox:
    from infra.local.sandboxes.payments import Merchant, PaymentsSandbox, PaymentsSandboxServer

    merchant = Merchant(
        config.wecom_pay_mch_id,
        config.wecom_pay_api_key,
        config.wecom_pay_secret,
        v3_public_key_pem=config.merchant_public_key_pem,
        api_v3_key=config.wechat_pay_api_v3_key,
    )
    books = PaymentsSandbox(
        {merchant.mch_id: merchant},
        timeout_delay_seconds=config.sandbox_timeout_delay,
        platform_key_id=config.wechat_pay_public_key_id,
    )
    return PaymentsSandboxServer(books, config.host, config.payments_port)


def _wecom(config: LocalConfig) -> Sandbox:
    from incentives.wecom.crypto import CallbackCrypto
    from infra.local.sandboxes.wecom import WeComSandbox, WeComSandboxServer

    crypto = CallbackCrypto(config.callback_token, config.encoding_aes_key, config.corp_id)
    books = WeComSandbox(config.corp_id, config.wecom_secret, crypto, f"{config.api_url}/wecom/callback")
    return WeComSandboxServer(books, config.host, config.wecom_port)


def _miniprogram(config: LocalConfig) -> Sandbox:
    from infra.local.sandboxes.miniprogram import MiniProgramSandbox, MiniProgramSandboxServer

    books = MiniProgramSandbox(config.miniprogram_appid, config.miniprogram_secret)
    return MiniProgramSandboxServer(books, config.host, config.miniprogram_port)


def _wechat_store(config: LocalConfig) -> Sandbox:
    from incentives.wecom.crypto import CallbackCrypto
    from infra.local.sandboxes.wechat_store import WeChatStoreSandbox, WeChatStoreSandboxServer

    crypto = CallbackCrypto(config.store_push_token, config.store_encoding_aes_key, config.store_appid)
    books = WeChatStoreSandbox(
        config.store_appid,
        config.store_secret,
        crypto,
        f"{config.api_url}/wechat-store/callback/{config.corp_id}",
    )
    return WeChatStoreSandboxServer(books, config.host, config.store_port)


SANDBOXES: list[SandboxEntry] = [
    SandboxEntry(parameter="WeComBaseUrl", url=lambda config: config.wecom_url, build=_wecom),
    SandboxEntry(parameter="WeChatPayBaseUrl", url=lambda config: config.payments_url, build=_payments),
    SandboxEntry(
        parameter="MiniProgramBaseUrl", url=lambda config: config.miniprogram_url, build=_miniprogram
    ),
    SandboxEntry(parameter="WeChatStoreBaseUrl", url=lambda config: config.store_url, build=_wechat_store),
]


def parameter_overrides(config: LocalConfig) -> dict[str, str]:
    """Template parameters that point the functions at the sandboxes."""
    return {entry.parameter: entry.url(config) for entry in SANDBOXES}
