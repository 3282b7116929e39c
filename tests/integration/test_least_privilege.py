"""Secrets per tenant and purpose on the local stack, read by each function as on AWS (SPEC §5).

Every integration test already fails on a call its function's policy would deny (see
``conftest.py``); here each function runs from a cold container (nothing cached) so that every
secret it reads shows, and what it read is compared with what the template lets it read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incentives.runtime import wiring
from incentives.runtime.secrets import SecretPurpose, tenant_has_secret
from tests.conftest import TENCENT_SAMPLE_CORP, StackHandle
from tests.integration.test_payouts import _payout, _work
from tests.integration.test_wecom_callback import _event_xml, _post, _signed_post
from tests.support import LOCAL_CORP, order_paid, token_for, webhook_event
from tests.support.iam import CallRecorder, Request
from tests.unit.test_least_privilege import SECRET_PURPOSES

Purpose = SecretPurpose


def _purpose_of(request: Request, prefix: str) -> SecretPurpose:
    """``…:secret:<prefix>/<corp>/<purpose>`` with or without Secrets Manager's ``-XXXXXX``."""
    name = request.resource.split(":secret:", 1)[1].removeprefix(f"{prefix}/")
    rest = name.split("/", 1)[1]
    return next(p for p in SecretPurpose if rest == p.value or (rest[:-7] == p.value and rest[-7] == "-"))


class Observed:
    """What one function did with Secrets Manager during one step."""

    def __init__(self, requests: list[Request], prefix: str) -> None:
        def purposes(action: str) -> set[SecretPurpose]:
            return {_purpose_of(r, prefix) for r in requests if r.action == f"secretsmanager:{action}"}

        self.read = purposes("GetSecretValue")
        self.described = purposes("DescribeSecret")
        self.listed = any(r.action == "secretsmanager:ListSecrets" for r in requests)


Observe = Callable[[str, Callable[[], Any]], Observed]


@pytest.fixture
def observe(stack: StackHandle, calls_allowed_by_iam: CallRecorder) -> Observe:
    """Run a step in a cold container and return what ``function`` did with secrets during it."""
    prefix = str(stack.resolver.parameters["TenantSecretsPrefix"])

    def run(function: str, step: Callable[[], Any]) -> Observed:
        wiring.reset()
        start = len(calls_allowed_by_iam.calls)
        step()
        requests = [
            request
            for call in calls_allowed_by_iam.calls[start:]
            if call.function == function
            for request in call.requests
        ]
        return Observed(requests, prefix)

    return run


def _fire(stack: StackHandle, function: str, at: datetime) -> Any:
    return stack.fire(function, at)


def test_the_local_stack_stores_one_secret_per_tenant_and_purpose(stack: StackHandle) -> None:
    prefix = stack.resolver.parameters["TenantSecretsPrefix"]
    pages = stack.client("secretsmanager").get_paginator("list_secrets").paginate()
    names = {entry["Name"] for page in pages for entry in page["SecretList"]}
    assert {f"{prefix}/{LOCAL_CORP}/{purpose}" for purpose in SecretPurpose} <= names
    # The extra tenant of the test stacks (LOCAL_EXTRA_TENANTS) has callback secrets only.
    assert {name for name in names if name.startswith(f"{prefix}/{TENCENT_SAMPLE_CORP}/")} == {
        f"{prefix}/{TENCENT_SAMPLE_CORP}/wecom-callback"
    }
    assert f"{prefix}/tenants" not in names


def test_the_public_functions_read_only_their_own_secret(stack: StackHandle, observe: Observe) -> None:
    webhook = observe(
        "OrderWebhookFunction",
        lambda: stack.invoke("OrderWebhookFunction", webhook_event(order_paid("O-LP-1"))),
    )
    assert webhook.read == {Purpose.WEBHOOK} == SECRET_PURPOSES["OrderWebhookFunction"]
    body, query = _signed_post(_event_xml())
    callback = observe("WecomCallbackFunction", lambda: _post(stack, body, query))
    assert callback.read == {Purpose.WECOM_CALLBACK} == SECRET_PURPOSES["WecomCallbackFunction"]
    assert not (webhook.described or webhook.listed or callback.described or callback.listed)


CONTACT_CHANGED = (
    "<xml><ToUserName><![CDATA[ww-local-corp]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
    "<CreateTime>1764000000</CreateTime><MsgType><![CDATA[event]]></MsgType>"
    "<Event><![CDATA[change_contact]]></Event><ChangeType><![CDATA[update_user]]></ChangeType>"
    "<UserID><![CDATA[zhangwei]]></UserID></xml>"
)


def test_the_event_processor_reads_the_wecom_app_secret_only(stack: StackHandle, observe: Observe) -> None:
    body, query = _signed_post(CONTACT_CHANGED)  # re-synchronises the organization from WeCom
    assert _post(stack, body, query)["statusCode"] == 200
    processor = observe("EventProcessorFunction", stack.process_queue)
    assert processor.read == {Purpose.WECOM_APP} == SECRET_PURPOSES["EventProcessorFunction"]


def test_the_admin_api_reads_api_and_wecom_app_and_only_describes_wecom_pay(
    stack: StackHandle, observe: Observe
) -> None:
    admin = token_for("admin")

    def console() -> None:
        assert stack.status("AdminApiFunction", "POST", "/admin/org/sync", admin) == 202  # queued only
        assert stack.status("AdminApiFunction", "POST", "/admin/tags/import", admin) == 200  # calls WeCom
        online = {"payment_method": "online"}
        resource = "/admin/guide-incentives/settings"
        assert stack.status("AdminApiFunction", "PUT", resource, admin, json=online) == 200

    observed = observe("AdminApiFunction", console)
    assert observed.read == {Purpose.API, Purpose.WECOM_APP} == SECRET_PURPOSES["AdminApiFunction"]
    assert observed.described == {Purpose.WECOM_PAY}


@pytest.mark.parametrize(
    ("function", "method", "resource", "role"),
    [
        ("AffiliateApiFunction", "GET", "/affiliate/program", "affiliate"),
        ("AffiliateAdminApiFunction", "GET", "/admin/affiliates/settings", "admin"),
        ("SubsidyAdminApiFunction", "GET", "/admin/subsidy/campaigns", "operator"),
        ("GuideApiFunction", "GET", "/guide/tags", "guide"),
    ],
)
def test_the_other_apis_read_their_token_key(
    stack: StackHandle, observe: Observe, function: str, method: str, resource: str, role: str
) -> None:
    token = token_for(role, subject="u-1")
    observed = observe(function, lambda: stack.status(function, method, resource, token))
    assert observed.read == {Purpose.API}
    assert observed.read <= SECRET_PURPOSES[function]


def test_the_payout_functions_read_the_payment_secrets(stack: StackHandle, observe: Observe) -> None:
    payout = _payout()
    stack.payments.add_faults("pay", ["timeout"])
    stack.payments.add_faults("pay_query", ["SYSTEMERROR"])
    worker = observe("PayoutWorkerFunction", lambda: _work(stack))
    assert worker.read == {Purpose.WECOM_PAY, Purpose.WECHAT_PAY} == SECRET_PURPOSES["PayoutWorkerFunction"]
    stack.drain("PayoutQueue")
    later = datetime.now(UTC) + timedelta(minutes=30)
    reconciler = observe("PayoutReconcilerFunction", lambda: _fire(stack, "PayoutReconcilerFunction", later))
    assert reconciler.read == SECRET_PURPOSES["PayoutReconcilerFunction"]
    assert wiring.payout_repository().get(LOCAL_CORP, payout.payout_id) is not None


def test_org_sync_lists_tenants_by_name_and_reads_their_wecom_app_secret(
    stack: StackHandle, observe: Observe
) -> None:
    sync = observe("OrgSyncFunction", lambda: _fire(stack, "OrgSyncFunction", datetime.now(UTC)))
    assert sync.listed
    assert sync.read == {Purpose.WECOM_APP} == SECRET_PURPOSES["OrgSyncFunction"]


def test_the_scheduled_ledger_jobs_read_no_secret(stack: StackHandle, observe: Observe) -> None:
    now = datetime.now(UTC)
    for function in ("AfterSalesWindowFunction", "LedgerSettlementFunction"):
        observed = observe(function, lambda f=function: _fire(stack, f, now))
        assert observed.read == set() == SECRET_PURPOSES[function]


@pytest.mark.parametrize("corp", ["ww-unknown", "ww-local-corp/../x", "ww local corp"])
def test_a_webhook_naming_an_unknown_tenant_is_a_401_not_an_error(stack: StackHandle, corp: str) -> None:
    event = webhook_event(order_paid("O-LP-2"), corp_id=corp)
    response = stack.invoke("OrderWebhookFunction", event)
    assert response["statusCode"] == 401, response


def test_whether_wecom_pay_is_configured_is_known_per_tenant(stack: StackHandle) -> None:
    assert tenant_has_secret(LOCAL_CORP, SecretPurpose.WECOM_PAY)
    assert not tenant_has_secret(TENCENT_SAMPLE_CORP, SecretPurpose.WECOM_PAY)
    assert wiring.wecom_pay_configured(LOCAL_CORP) and not wiring.wecom_pay_configured(TENCENT_SAMPLE_CORP)


def test_the_store_connector_reads_only_its_own_secrets(stack: StackHandle, observe: Observe) -> None:
    from tests.integration.test_wechat_store import paid_push, push, store_order

    order_id = store_order(stack)
    callback = observe("StoreCallbackFunction", lambda: push(stack, paid_push(order_id)))
    assert callback.read == {Purpose.WECHAT_STORE_PUSH} == SECRET_PURPOSES["StoreCallbackFunction"]
    sync = observe("StoreSyncFunction", lambda: stack.feed("StoreSyncFunction", "WeChatStoreQueue"))
    assert sync.read == {Purpose.WECHAT_STORE} == SECRET_PURPOSES["StoreSyncFunction"]
    flows = observe("StoreFlowsFunction", lambda: _fire(stack, "StoreFlowsFunction", datetime.now(UTC)))
    assert flows.read == {Purpose.WECHAT_STORE} == SECRET_PURPOSES["StoreFlowsFunction"] and flows.listed
    admin = token_for("admin")
    console = observe(
        "StoreAdminApiFunction",
        lambda: stack.status(
            "StoreAdminApiFunction", "GET", "/admin/wechat-store/flows", admin, query={"day": ["2026-11-24"]}
        ),
    )
    assert console.read == {Purpose.API} == SECRET_PURPOSES["StoreAdminApiFunction"]
    assert not (callback.described or callback.listed or sync.listed or console.listed)
