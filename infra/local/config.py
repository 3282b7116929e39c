"""Local settings: environment variables with working defaults (listed in the README).

WeChat Pay v3 (transfers to a user's wallet), seeded as the local tenant's ``wechat-pay`` secret:

- ``WECHAT_PAY_MCH_ID`` (default: ``WECOM_PAY_MCH_ID``'s value, so the sandbox's one merchant
  serves both providers);
- ``WECHAT_PAY_APPID`` (``wxd930ea5d5a258f4f``): the app the payees' openids belong to;
- ``WECHAT_PAY_SERIAL_NO``: serial number of the merchant API certificate (a placeholder locally);
- ``WECHAT_PAY_PRIVATE_KEY_PEM``: the merchant API private key, PEM text (``\\n`` escapes allowed).
  Unset, a development RSA key is generated once per process and seeded into the secret; a
  payments sandbox merchant given ``merchant_public_key_pem`` verifies the signatures made with it;
- ``WECHAT_PAY_APIV3_KEY`` (32 characters): the merchant's APIv3 key, with which the sandbox
  encrypts notifications and the stack decrypts them;
- ``WECHAT_PAY_PUBLIC_KEY_ID`` / ``WECHAT_PAY_PUBLIC_KEY_PEM``: the WeChat Pay public key that
  signs answers and notifications. Unset, the sandbox's own key (made once per process) and id.

Each tenant's ``notify_url`` is the local gateway's ``/payments/wechat/notify/<corp_id>``.

The merchant's mini program (customers' sign-in), seeded as ``miniprogram_appid`` /
``miniprogram_secret``: ``MINIPROGRAM_APPID``, ``MINIPROGRAM_SECRET``; its sandbox listens on
``LOCAL_MINIPROGRAM_PORT``.

The merchant's WeChat Store (微信小店), seeded as the local tenant's ``wechat_store`` secret:
``WECHAT_STORE_APPID``, ``WECHAT_STORE_SECRET`` (its API), ``WECHAT_STORE_PUSH_TOKEN``,
``WECHAT_STORE_ENCODING_AES_KEY`` (its message pushes); its sandbox listens on ``LOCAL_STORE_PORT``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from typing import Any

ACCOUNT_ID = "123456789012"


@cache
def development_private_key_pem() -> str:
    """An RSA key for the local merchant, made once per process (never a real merchant's key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@dataclass(frozen=True)
class LocalConfig:
    host: str
    api_port: int
    aws_port: int
    region: str
    stack_name: str
    corp_id: str
    callback_token: str
    encoding_aes_key: str
    order_webhook_secret: str
    api_jwt_secret: str
    wecom_pay_mch_id: str
    wecom_pay_api_key: str
    wecom_pay_secret: str
    wecom_pay_agent_id: str
    wechat_pay_mch_id: str
    wechat_pay_appid: str
    wechat_pay_serial_no: str
    wechat_pay_private_key_env: str
    """``WECHAT_PAY_PRIVATE_KEY_PEM`` as given; empty means the development key."""
    wechat_pay_api_v3_key: str
    wechat_pay_public_key_id: str
    wechat_pay_public_key_env: str
    """``WECHAT_PAY_PUBLIC_KEY_PEM`` as given; empty means the sandbox's development key."""
    payments_port: int
    wecom_secret: str
    wecom_port: int
    miniprogram_appid: str
    miniprogram_secret: str
    miniprogram_port: int
    store_appid: str
    store_secret: str
    store_push_token: str
    store_encoding_aes_key: str
    store_port: int
    sandbox_timeout_delay: float
    parameter_overrides: dict[str, str]
    extra_tenants: dict[str, dict[str, Any]]
    queue_visibility_timeout: int | None
    scheduler_enabled: bool
    poll_wait_seconds: int
    function_concurrency: int
    """Instances of each function (``LOCAL_FUNCTION_CONCURRENCY``): the invocations it runs at once."""

    @classmethod
    def from_env(cls) -> LocalConfig:
        env = os.environ
        visibility = env.get("LOCAL_QUEUE_VISIBILITY_TIMEOUT")
        concurrency = env.get("LOCAL_FUNCTION_CONCURRENCY", "4")
        if not concurrency.isdigit() or int(concurrency) < 1:
            raise ValueError(
                f"LOCAL_FUNCTION_CONCURRENCY must be a whole number of at least 1, not {concurrency!r}"
            )
        return cls(
            host=env.get("LOCAL_HOST", "127.0.0.1"),
            api_port=int(env.get("LOCAL_API_PORT", "3000")),
            aws_port=int(env.get("LOCAL_AWS_PORT", "4566")),
            region=env.get("AWS_REGION", env.get("AWS_DEFAULT_REGION", "ap-southeast-1")),
            stack_name=env.get("LOCAL_STACK_NAME", "incentives-local"),
            corp_id=env.get("WECOM_CORP_ID", "ww-local-corp"),
            callback_token=env.get("WECOM_CALLBACK_TOKEN", "local-callback-token"),
            encoding_aes_key=env.get("WECOM_ENCODING_AES_KEY", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"),
            order_webhook_secret=env.get("ORDER_WEBHOOK_SECRET", "local-order-webhook-secret"),
            api_jwt_secret=env.get("API_JWT_SECRET", "local-api-jwt-secret-for-development-only"),
            wecom_pay_mch_id=env.get("WECOM_PAY_MCH_ID", "1900000109"),
            wecom_pay_api_key=env.get("WECOM_PAY_API_KEY", "192006250b4c09247ec02edce69f6a2d"),
            wecom_pay_secret=env.get("WECOM_PAY_SECRET", "local-wecom-payment-app-secret"),
            wecom_pay_agent_id=env.get("WECOM_PAY_AGENT_ID", "1000002"),
            wechat_pay_mch_id=env.get("WECHAT_PAY_MCH_ID", env.get("WECOM_PAY_MCH_ID", "1900000109")),
            wechat_pay_appid=env.get("WECHAT_PAY_APPID", "wxd930ea5d5a258f4f"),
            wechat_pay_serial_no=env.get("WECHAT_PAY_SERIAL_NO", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"),
            wechat_pay_private_key_env=env.get("WECHAT_PAY_PRIVATE_KEY_PEM", "").replace("\\n", "\n"),
            wechat_pay_api_v3_key=env.get("WECHAT_PAY_APIV3_KEY", "local-apiv3-key-for-development0"),
            wechat_pay_public_key_id=env.get(
                "WECHAT_PAY_PUBLIC_KEY_ID", "PUB_KEY_ID_0119000001092026000000000000000001"
            ),
            wechat_pay_public_key_env=env.get("WECHAT_PAY_PUBLIC_KEY_PEM", "").replace("\\n", "\n"),
            payments_port=int(env.get("LOCAL_PAYMENTS_PORT", "3002")),
            wecom_secret=env.get("WECOM_SECRET", "local-wecom-app-secret"),
            wecom_port=int(env.get("LOCAL_WECOM_PORT", "3001")),
            miniprogram_appid=env.get("MINIPROGRAM_APPID", "wx0123456789abcdef"),
            miniprogram_secret=env.get("MINIPROGRAM_SECRET", "local-miniprogram-app-secret"),
            miniprogram_port=int(env.get("LOCAL_MINIPROGRAM_PORT", "3003")),
            store_appid=env.get("WECHAT_STORE_APPID", "wxstore0123456789"),
            store_secret=env.get("WECHAT_STORE_SECRET", "local-wechat-store-app-secret"),
            store_push_token=env.get("WECHAT_STORE_PUSH_TOKEN", "local-store-push-token"),
            store_encoding_aes_key=env.get(
                "WECHAT_STORE_ENCODING_AES_KEY", "STOREabcdefghijklmnopqrstuvwxyz0123456789AB"
            ),
            store_port=int(env.get("LOCAL_STORE_PORT", "3004")),
            sandbox_timeout_delay=float(env.get("LOCAL_SANDBOX_TIMEOUT_DELAY", "6")),
            parameter_overrides=dict(
                pair.split("=", 1) for pair in env.get("LOCAL_PARAMETERS", "").split(",") if "=" in pair
            ),
            extra_tenants=json.loads(env.get("LOCAL_EXTRA_TENANTS") or "{}"),
            queue_visibility_timeout=int(visibility) if visibility else None,
            scheduler_enabled=env.get("LOCAL_SCHEDULER", "on").lower() not in {"off", "0", "false"},
            poll_wait_seconds=int(env.get("LOCAL_POLL_WAIT_SECONDS", "1")),
            function_concurrency=int(concurrency),
        )

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.aws_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def wecom_url(self) -> str:
        return f"http://{self.host}:{self.wecom_port}"

    @property
    def payments_url(self) -> str:
        return f"http://{self.host}:{self.payments_port}"

    @property
    def miniprogram_url(self) -> str:
        return f"http://{self.host}:{self.miniprogram_port}"

    @property
    def store_url(self) -> str:
        return f"http://{self.host}:{self.store_port}"

    @property
    def wechat_pay_private_key_pem(self) -> str:
        """The local merchant's v3 API private key (PEM)."""
        return self.wechat_pay_private_key_env or development_private_key_pem()

    @property
    def wechat_pay_public_key_pem(self) -> str:
        """The WeChat Pay public key (PEM) the tenant verifies answers and notifications with."""
        if self.wechat_pay_public_key_env:
            return self.wechat_pay_public_key_env
        from infra.local.sandboxes.payments import development_platform_key_pem, public_pem_of

        return public_pem_of(development_platform_key_pem())

    def notify_url(self, corp_id: str) -> str:
        """Where WeChat Pay (the sandbox) sends a tenant's transfer results: the local gateway."""
        return f"{self.api_url}/payments/wechat/notify/{corp_id}"

    @property
    def merchant_public_key_pem(self) -> str:
        """The merchant key's public half (PEM), for the payments sandbox to verify signatures with."""
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_pem_private_key(self.wechat_pay_private_key_pem.encode(), password=None)
        return (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def tenant_secrets(self) -> dict[str, dict[str, Any]]:
        """Every local tenant's secrets, one object per tenant (``LOCAL_EXTRA_TENANTS`` and the
        variables above); the embedded endpoint stores them as one secret per tenant and purpose,
        as on AWS (``incentives.runtime.secrets.split_by_purpose``)."""
        return {
            **self.extra_tenants,
            self.corp_id: {
                "order_webhook_secret": self.order_webhook_secret,
                "wecom_callback_token": self.callback_token,
                "wecom_encoding_aes_key": self.encoding_aes_key,
                "api_jwt_secret": self.api_jwt_secret,
                "wecom_secret": self.wecom_secret,
                "miniprogram_appid": self.miniprogram_appid,
                "miniprogram_secret": self.miniprogram_secret,
                "wechat_store": {
                    "appid": self.store_appid,
                    "secret": self.store_secret,
                    "token": self.store_push_token,
                    "encoding_aes_key": self.store_encoding_aes_key,
                },
                "wecom_pay": {
                    "mch_id": self.wecom_pay_mch_id,
                    "api_key": self.wecom_pay_api_key,
                    "payment_secret": self.wecom_pay_secret,
                    "agent_id": self.wecom_pay_agent_id,
                },
                "wechat_pay": {
                    "mch_id": self.wechat_pay_mch_id,
                    "appid": self.wechat_pay_appid,
                    "serial_no": self.wechat_pay_serial_no,
                    "private_key_pem": self.wechat_pay_private_key_pem,
                    "notify_url": self.notify_url(self.corp_id),
                    "api_v3_key": self.wechat_pay_api_v3_key,
                    "wechatpay_public_key_pem": self.wechat_pay_public_key_pem,
                    "wechatpay_public_key_id": self.wechat_pay_public_key_id,
                },
            },
        }

    def aws_environment(self) -> dict[str, str]:
        """What every boto3 client in the process needs to talk to the embedded endpoint."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }
