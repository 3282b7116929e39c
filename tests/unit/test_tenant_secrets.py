"""Tenant secrets: one secret per tenant and purpose, read with caching (moto in process, no AWS)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import GetParameterError
from botocore.stub import Stubber
from moto import mock_aws

from incentives.runtime import aws, wiring
from incentives.runtime.secrets import (
    SecretPurpose,
    forget_cached_secrets,
    split_by_purpose,
    tenant_has_secret,
    tenant_secret,
    tenants_with,
)

REGION = "ap-southeast-1"


@pytest.fixture
def secretsmanager(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An in-process Secrets Manager and the settings of a deployment with prefix ``incentives``."""
    monkeypatch.setenv("TENANT_SECRETS_PREFIX", "incentives")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for key, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        wiring.reset()
        yield boto3.client("secretsmanager", region_name=REGION)
    wiring.reset()


def _create(client: Any, name: str, document: dict[str, Any]) -> None:
    client.create_secret(Name=name, SecretString=json.dumps(document))


def test_one_tenants_secrets_split_into_one_secret_per_purpose() -> None:
    documents = split_by_purpose(
        {
            "order_webhook_secret": "w",
            "wecom_callback_token": "t",
            "wecom_encoding_aes_key": "k",
            "api_jwt_secret": "j",
            "wecom_secret": "s",
            "wecom_pay": {"mch_id": "1"},
            "wechat_pay": {"private_key_pem": "pem"},
        }
    )
    assert documents == {
        SecretPurpose.WEBHOOK: {"order_webhook_secret": "w"},
        SecretPurpose.WECOM_CALLBACK: {"wecom_callback_token": "t", "wecom_encoding_aes_key": "k"},
        SecretPurpose.API: {"api_jwt_secret": "j"},
        SecretPurpose.WECOM_APP: {"wecom_secret": "s"},
        SecretPurpose.WECOM_PAY: {"mch_id": "1"},
        SecretPurpose.WECHAT_PAY: {"private_key_pem": "pem"},
    }


def test_a_misspelt_secret_is_refused_by_name_not_dropped() -> None:
    with pytest.raises(ValueError, match="order_webhook_secrt"):
        split_by_purpose({"order_webhook_secrt": "w"})
    with pytest.raises(ValueError, match="wecom_pay must be a JSON object"):
        split_by_purpose({"wecom_pay": "1900000109"})


def test_a_tenant_reads_the_secret_of_a_purpose_and_no_other_tenants(secretsmanager: Any) -> None:
    _create(secretsmanager, "incentives/ww1/webhook", {"order_webhook_secret": "one"})
    _create(secretsmanager, "incentives/ww2/webhook", {"order_webhook_secret": "two"})
    assert tenant_secret("ww1", SecretPurpose.WEBHOOK) == {"order_webhook_secret": "one"}
    assert tenant_secret("ww2", SecretPurpose.WEBHOOK) == {"order_webhook_secret": "two"}
    assert tenant_secret("ww1", SecretPurpose.API) == {}


def test_a_missing_secret_is_remembered_until_the_cache_expires(secretsmanager: Any) -> None:
    assert tenant_secret("ww-new", SecretPurpose.WEBHOOK) == {}
    _create(secretsmanager, "incentives/ww-new/webhook", {"order_webhook_secret": "s"})
    assert tenant_secret("ww-new", SecretPurpose.WEBHOOK) == {}  # no second call for an unknown tenant
    forget_cached_secrets()
    assert tenant_secret("ww-new", SecretPurpose.WEBHOOK) == {"order_webhook_secret": "s"}


def test_a_corp_id_that_would_change_the_secret_name_reads_nothing(secretsmanager: Any) -> None:
    _create(secretsmanager, "incentives/ww1/webhook-extra/webhook", {"order_webhook_secret": "s"})
    assert tenant_secret("ww1/webhook-extra", SecretPurpose.WEBHOOK) == {}
    assert not tenant_has_secret("ww1/webhook-extra", SecretPurpose.WEBHOOK)


def test_a_refused_read_is_an_error_not_an_unknown_tenant(secretsmanager: Any) -> None:
    # AccessDenied means the policy and the code disagree: a 5xx to fix, never "no such tenant".
    with Stubber(aws.secretsmanager()) as stubber:
        stubber.add_client_error("get_secret_value", service_error_code="AccessDeniedException")
        with pytest.raises(GetParameterError, match="AccessDeniedException"):
            tenant_secret("ww1", SecretPurpose.WECHAT_PAY)
    with Stubber(aws.secretsmanager()) as stubber:
        stubber.add_client_error("get_secret_value", service_error_code="ResourceNotFoundException")
        assert tenant_secret("ww1", SecretPurpose.WECHAT_PAY) == {}


def test_a_secret_must_be_a_json_object(secretsmanager: Any) -> None:
    secretsmanager.create_secret(Name="incentives/ww1/api", SecretString='"just a string"')
    with pytest.raises(ValueError, match="incentives/ww1/api must be a JSON object"):
        tenant_secret("ww1", SecretPurpose.API)


def test_whether_a_tenant_has_a_secret_comes_from_its_metadata(secretsmanager: Any) -> None:
    _create(secretsmanager, "incentives/ww1/wecom-pay", {"mch_id": "1"})
    _create(secretsmanager, "incentives/ww2/wecom-pay", {"mch_id": "2"})
    secretsmanager.delete_secret(SecretId="incentives/ww2/wecom-pay", RecoveryWindowInDays=7)
    assert tenant_has_secret("ww1", SecretPurpose.WECOM_PAY)
    assert not tenant_has_secret("ww1", SecretPurpose.WECHAT_PAY)
    assert not tenant_has_secret("ww2", SecretPurpose.WECOM_PAY)  # scheduled for deletion
    assert not tenant_has_secret("ww3", SecretPurpose.WECOM_PAY)


def test_tenants_are_those_with_a_secret_of_the_purpose_under_the_prefix(secretsmanager: Any) -> None:
    for name in (
        "incentives/ww2/wecom-app",
        "incentives/ww1/wecom-app",
        "incentives/ww3/webhook",
        "incentives/ww4/wecom-app-old",
        "incentives-staging/ww5/wecom-app",
        "Incentives/ww6/wecom-app",
        "incentives/ww7/nested/wecom-app",
    ):
        _create(secretsmanager, name, {"wecom_secret": "s"})
    assert tenants_with(SecretPurpose.WECOM_APP) == ["ww1", "ww2"]
    assert tenants_with(SecretPurpose.WEBHOOK) == ["ww3"]


def test_without_a_prefix_the_single_tenants_secrets_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TENANT_SECRETS_PREFIX", raising=False)
    monkeypatch.setenv("WECOM_CORP_ID", "ww-env")
    monkeypatch.setenv("ORDER_WEBHOOK_SECRET", "from-env")
    monkeypatch.delenv("API_JWT_SECRET", raising=False)
    wiring.reset()
    try:
        assert tenant_secret("ww-env", SecretPurpose.WEBHOOK) == {"order_webhook_secret": "from-env"}
        assert tenant_secret("ww-env", SecretPurpose.API) == {}
        assert tenant_secret("ww-other", SecretPurpose.WEBHOOK) == {}
    finally:
        wiring.reset()
