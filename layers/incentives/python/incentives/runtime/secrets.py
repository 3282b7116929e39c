"""Tenant secrets: one Secrets Manager secret per tenant and purpose (SPEC §5).

A tenant's secrets are ``<prefix>/<corp_id>/<purpose>`` (the template sets the prefix as
``TENANT_SECRETS_PREFIX``, default ``incentives``), each a JSON object:

- ``webhook``: ``order_webhook_secret`` (the order webhook);
- ``wecom-callback``: ``wecom_callback_token``, ``wecom_encoding_aes_key`` (the WeCom callback);
- ``api``: ``api_jwt_secret`` (the four HTTP APIs);
- ``wecom-app``: ``wecom_secret``, the app calling WeCom's API (processor, org sync, two APIs, sign-in);
- ``miniprogram``: ``miniprogram_appid``, ``miniprogram_secret``, the merchant's mini program
  (customers' and affiliates' sign-in with ``jscode2session``);
- ``wecom-pay``: ``mch_id``, ``api_key``, ``payment_secret``, ``agent_id``, optional
  ``cert_file`` / ``key_file`` (payout worker and reconciler);
- ``wechat-pay``: ``mch_id``, ``appid``, ``serial_no``, ``private_key_pem``, ``notify_url``, the
  WeChat Pay public key (``wechatpay_public_key_id``, ``wechatpay_public_key_pem``) that signs
  its answers, optional transfer fields (payout worker and reconciler);
- ``wechat-notify``: ``mch_id``, ``api_v3_key``, ``wechatpay_public_key_id``,
  ``wechatpay_public_key_pem`` — what the public notification route needs to trust and read
  WeChat Pay's notifications, and nothing that can move money.
- ``wechat-store``: ``appid``, ``secret`` — the tenant's WeChat Store (微信小店) calling the
  store's API (order/get, funds flows);
- ``wechat-store-push``: ``appid``, ``token``, ``encoding_aes_key`` — what the public message
  push route needs to verify and decrypt the store's pushes, and nothing that can call the API.

Each function's IAM policy allows ``GetSecretValue`` on the purposes it uses only, so the
public webhook never holds a payment key. Without a prefix (unit tests, a bare ``invoke``)
the single tenant ``WECOM_CORP_ID`` has the secrets given by ``ORDER_WEBHOOK_SECRET``,
``WECOM_CALLBACK_TOKEN``, ``WECOM_ENCODING_AES_KEY`` and ``API_JWT_SECRET``.

Values are cached for a few minutes per container, so a rotation takes effect without a
deploy; an absent secret is remembered as long, so requests naming unknown tenants do not
cost a call each. Secrets are never logged.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any

from incentives.runtime.settings import DEFAULT_CORP_ID, settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

SECRETS_CACHE_SECONDS = 300
ABSENT_CACHE_SIZE = 1024
CORP_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""What a corp id may look like: it becomes a segment of a secret name, so never a ``/``."""


class SecretPurpose(StrEnum):
    """The last segment of a tenant's secret name; IAM grants each function a set of purposes."""

    WEBHOOK = "webhook"
    WECOM_CALLBACK = "wecom-callback"
    API = "api"
    WECOM_APP = "wecom-app"
    MINIPROGRAM = "miniprogram"
    WECOM_PAY = "wecom-pay"
    WECHAT_PAY = "wechat-pay"
    WECHAT_PAY_NOTIFY = "wechat-notify"
    WECHAT_STORE = "wechat-store"
    WECHAT_STORE_PUSH = "wechat-store-push"


FIELD_PURPOSES: dict[str, SecretPurpose] = {
    "order_webhook_secret": SecretPurpose.WEBHOOK,
    "wecom_callback_token": SecretPurpose.WECOM_CALLBACK,
    "wecom_encoding_aes_key": SecretPurpose.WECOM_CALLBACK,
    "api_jwt_secret": SecretPurpose.API,
    "wecom_secret": SecretPurpose.WECOM_APP,
    "miniprogram_appid": SecretPurpose.MINIPROGRAM,
    "miniprogram_secret": SecretPurpose.MINIPROGRAM,
}
"""Fields of one tenant's secrets written as one object, and the purpose each belongs to."""

DOCUMENT_PURPOSES: dict[str, SecretPurpose] = {
    "wecom_pay": SecretPurpose.WECOM_PAY,
    "wechat_pay": SecretPurpose.WECHAT_PAY,
    "wechat_store": SecretPurpose.WECHAT_STORE,
}
"""Objects of one tenant's secrets written as one object, each the whole secret of its purpose."""

_ENV_FIELDS = {
    "order_webhook_secret": "ORDER_WEBHOOK_SECRET",
    "wecom_callback_token": "WECOM_CALLBACK_TOKEN",
    "wecom_encoding_aes_key": "WECOM_ENCODING_AES_KEY",
    "api_jwt_secret": "API_JWT_SECRET",
}

_absent_until: dict[str, float] = {}


def is_corp_id(text: str) -> bool:
    return CORP_ID_PATTERN.fullmatch(text) is not None


def secret_name(prefix: str, corp_id: str, purpose: SecretPurpose) -> str:
    return f"{prefix}/{corp_id}/{purpose.value}"


NOTIFY_FIELDS = ("mch_id", "api_v3_key", "wechatpay_public_key_id", "wechatpay_public_key_pem")
"""The part of ``wechat_pay`` that the notification route reads (its own secret)."""
STORE_API_FIELDS = ("appid", "secret")
STORE_PUSH_FIELDS = ("appid", "token", "encoding_aes_key")
"""The parts of ``wechat_store`` that the API callers and the public push route read (one secret each)."""


def split_by_purpose(tenant: Mapping[str, Any]) -> dict[SecretPurpose, dict[str, Any]]:
    """One tenant's secrets written as one object → one secret per purpose.

    ``{"order_webhook_secret": …, "wecom_pay": {…}}`` is how local settings
    (``LOCAL_EXTRA_TENANTS``) name a tenant's secrets; string fields go to their purpose's
    secret, ``wecom_pay`` / ``wechat_pay`` are the whole secret of theirs. An unknown field is
    an error, so a misspelt secret is not silently dropped.
    """
    documents: dict[SecretPurpose, dict[str, Any]] = {}
    for key, value in tenant.items():
        if key in FIELD_PURPOSES:
            documents.setdefault(FIELD_PURPOSES[key], {})[key] = value
        elif key in DOCUMENT_PURPOSES:
            if not isinstance(value, dict):
                raise ValueError(f"tenant secret {key} must be a JSON object")
            documents[DOCUMENT_PURPOSES[key]] = dict(value)
            if key == "wechat_pay":
                notify = {name: value[name] for name in NOTIFY_FIELDS if value.get(name)}
                if "api_v3_key" in notify:
                    documents[SecretPurpose.WECHAT_PAY_NOTIFY] = notify
                documents[SecretPurpose.WECHAT_PAY].pop("api_v3_key", None)  # the notify route's only
            if key == "wechat_store":
                documents[SecretPurpose.WECHAT_STORE] = {n: value[n] for n in STORE_API_FIELDS if n in value}
                documents[SecretPurpose.WECHAT_STORE_PUSH] = {
                    n: value[n] for n in STORE_PUSH_FIELDS if n in value
                }
        else:
            known = ", ".join(sorted([*FIELD_PURPOSES, *DOCUMENT_PURPOSES]))
            raise ValueError(f"unknown tenant secret {key!r} (known: {known})")
    return documents


def _secrets_from_env() -> dict[str, dict[SecretPurpose, dict[str, Any]]]:
    values = {field: os.environ.get(variable, "") for field, variable in _ENV_FIELDS.items()}
    tenant = os.environ.get("WECOM_CORP_ID", DEFAULT_CORP_ID)
    return {tenant: split_by_purpose({field: value for field, value in values.items() if value})}


def tenant_secret(corp_id: str, purpose: SecretPurpose) -> Mapping[str, Any]:
    """The tenant's secret for ``purpose`` (a JSON object); empty when the tenant has none."""
    prefix = settings().tenant_secrets_prefix
    if not prefix:
        return _secrets_from_env().get(corp_id, {}).get(purpose, {})
    if not is_corp_id(corp_id):
        return {}
    name = secret_name(prefix, corp_id, purpose)
    if _absent_until.get(name, 0.0) > time.monotonic():
        return {}
    from aws_lambda_powertools.utilities.parameters import GetParameterError

    try:
        value: Any = _provider().get(name, transform="json", max_age=SECRETS_CACHE_SECONDS)
    except GetParameterError as error:
        # Powertools wraps every failure; the client's own error is the one it was raised from.
        if _error_code(error.__context__) != "ResourceNotFoundException":
            raise
        _remember_absent(name)
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"secret {name} must be a JSON object")
    return value


def tenant_has_secret(corp_id: str, purpose: SecretPurpose) -> bool:
    """Whether the tenant has a secret for ``purpose``, from its metadata alone (DescribeSecret).

    A function may learn that a tenant's WeCom Pay is configured without being allowed to read
    its keys.
    """
    prefix = settings().tenant_secrets_prefix
    if not prefix:
        return bool(_secrets_from_env().get(corp_id, {}).get(purpose))
    if not is_corp_id(corp_id):
        return False
    from botocore.exceptions import ClientError

    from incentives.runtime import aws

    try:
        described = aws.secretsmanager().describe_secret(SecretId=secret_name(prefix, corp_id, purpose))
    except ClientError as error:
        if _error_code(error) == "ResourceNotFoundException":
            return False
        raise
    return "DeletedDate" not in described


def tenants_with(purpose: SecretPurpose) -> list[str]:
    """The corp ids of the tenants that have a secret for ``purpose``, sorted (ListSecrets: names only)."""
    prefix = settings().tenant_secrets_prefix
    if not prefix:
        return sorted(corp for corp, secrets in _secrets_from_env().items() if secrets.get(purpose))
    from incentives.runtime import aws

    corp_ids: set[str] = set()
    pages = (
        aws.secretsmanager()
        .get_paginator("list_secrets")
        .paginate(Filters=[{"Key": "name", "Values": [f"{prefix}/"]}])
    )
    for page in pages:
        for entry in page.get("SecretList", []):
            name = entry.get("Name", "")
            # The name filter is a case-insensitive prefix match: keep exact names only.
            corp, _, rest = name.removeprefix(f"{prefix}/").partition("/")
            if name.startswith(f"{prefix}/") and rest == purpose.value and is_corp_id(corp):
                corp_ids.add(corp)
    return sorted(corp_ids)


@cache
def _provider() -> SecretsProvider:
    """Powertools' Secrets Manager provider (cached values) over the container's client."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    from incentives.runtime import aws

    return SecretsProvider(boto3_client=aws.secretsmanager())


def _error_code(error: BaseException | None) -> str | None:
    response = getattr(error, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


def _remember_absent(name: str) -> None:
    if len(_absent_until) >= ABSENT_CACHE_SIZE:
        _absent_until.clear()
    _absent_until[name] = time.monotonic() + SECRETS_CACHE_SECONDS


def forget_cached_secrets() -> None:
    """Drop cached values and absences (the local runtime and tests switch stacks)."""
    _absent_until.clear()
    _provider.cache_clear()
