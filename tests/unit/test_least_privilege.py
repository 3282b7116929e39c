"""Least privilege in template.yaml (SPEC §5): each function reads only the secrets it needs.

The policies are evaluated, not pattern-matched: each function's statements are resolved and
asked whether they allow a read of every purpose's secret of a few tenants, existing (ARN with
Secrets Manager's six random characters) or not (the bare name, which IAM evaluates when the
secret does not exist).
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from incentives.runtime.secrets import SecretPurpose
from infra.local.aws import name_resources
from infra.local.config import LocalConfig
from infra.local.template import ROOT, read_stack
from tests.support.iam import Request, allowing, function_statements

STACK = read_stack()
RESOLVER = name_resources(STACK, dataclasses.replace(LocalConfig.from_env(), parameter_overrides={}))
PREFIX = str(RESOLVER.parameters["TenantSecretsPrefix"])
REGION, ACCOUNT = RESOLVER.pseudo["AWS::Region"], RESOLVER.pseudo["AWS::AccountId"]
TENANTS = ("ww0123456789abcdef", "ww-local-corp", "wx5823bf96d3bd56c7")
SUFFIXES = ("-Ab12Cd", "")
"""An existing secret's ARN ends in ``-`` and six random characters; a missing one's is the bare name."""

Purpose = SecretPurpose
PAYMENT_KEYS = {Purpose.WECOM_PAY, Purpose.WECHAT_PAY}

SECRET_PURPOSES: dict[str, set[SecretPurpose]] = {
    # POST /webhooks/orders: verify_delivery's HMAC key.
    "OrderWebhookFunction": {Purpose.WEBHOOK},
    # GET|POST /wecom/callback: wiring.callback_crypto (token + EncodingAESKey).
    "WecomCallbackFunction": {Purpose.WECOM_CALLBACK},
    # consumers: welcome messages, tags, org changes and requested syncs, openids (wiring.wecom_client).
    "EventProcessorFunction": {Purpose.WECOM_APP},
    "AfterSalesWindowFunction": set(),
    # bearer tokens (api.app.principal_of); contact ways, tags (wiring.wecom_client); the org sync
    # only queues a request (the event processor runs it).
    # Whether WeCom Pay is configured is read from its metadata (DescribeSecret), not its keys.
    "AdminApiFunction": {Purpose.API, Purpose.WECOM_APP},
    # bearer tokens; marking customers' tags in WeCom.
    "GuideApiFunction": {Purpose.API, Purpose.WECOM_APP},
    "AffiliateApiFunction": {Purpose.API},
    "AffiliateAdminApiFunction": {Purpose.API},
    # bearer tokens only: campaigns, the report and the evidence come from the table.
    "SubsidyAdminApiFunction": {Purpose.API},
    # wiring.payout_providers: WeCom pay-to-employee and WeChat Pay transfers (send and query).
    "PayoutWorkerFunction": {Purpose.WECOM_PAY, Purpose.WECHAT_PAY},
    "PayoutReconcilerFunction": {Purpose.WECOM_PAY, Purpose.WECHAT_PAY},
    "LedgerSettlementFunction": set(),
    # sync_organization through wiring.wecom_client, for every tenant with a WeCom app.
    "OrgSyncFunction": {Purpose.WECOM_APP},
    # sign-in: issues bearer tokens (api), reads WeCom members (wecom-app), jscode2session (miniprogram).
    "SignInApiFunction": {Purpose.API, Purpose.WECOM_APP, Purpose.MINIPROGRAM},
    # WeChat Pay's notifications: its public key and the APIv3 key, never the merchant's private key.
    "WechatPayNotifyFunction": {Purpose.WECHAT_PAY_NOTIFY},
    # level assessment and member counts: the table only.
    "LevelAssessmentFunction": set(),
    "LevelMemberCountFunction": set(),
    # WeChat Store pushes: runtime.wechat_store.push_credentials (appid, token, EncodingAESKey) only.
    "StoreCallbackFunction": {Purpose.WECHAT_STORE_PUSH},
    # order/get, after-sales, product categories (runtime.wechat_store.store_client).
    "StoreSyncFunction": {Purpose.WECHAT_STORE},
    # funds flows of every tenant with a store (store_client, tenants_with).
    "StoreFlowsFunction": {Purpose.WECHAT_STORE},
    # bearer tokens only: the console reads the table.
    "StoreAdminApiFunction": {Purpose.API},
}
"""What each function may read (GetSecretValue), and the code path that reads it."""

PUBLIC_FUNCTIONS = sorted({route.function for route in STACK.routes})
"""Functions behind API Gateway routes: reachable from the internet."""


def _arn(name: str) -> str:
    return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}"


def _secret(corp_id: str, purpose: str, suffix: str) -> str:
    return _arn(f"{PREFIX}/{corp_id}/{purpose}{suffix}")


def _allows(function: str, action: str, resource: str) -> bool:
    return bool(allowing(function_statements(STACK, RESOLVER, function), Request(action, resource)))


def _readable(function: str) -> set[SecretPurpose]:
    return {
        purpose
        for purpose in SecretPurpose
        for corp_id in TENANTS
        for suffix in SUFFIXES
        if _allows(function, "secretsmanager:GetSecretValue", _secret(corp_id, purpose, suffix))
    }


def test_the_table_names_every_function() -> None:
    assert set(SECRET_PURPOSES) == set(STACK.functions)


@pytest.mark.parametrize("function", sorted(SECRET_PURPOSES))
def test_each_function_may_read_exactly_the_secret_purposes_it_uses(function: str) -> None:
    assert _readable(function) == SECRET_PURPOSES[function]


@pytest.mark.parametrize("function", sorted(SECRET_PURPOSES))
def test_a_readable_purpose_is_readable_for_every_tenant_whether_its_secret_exists_or_not(
    function: str,
) -> None:
    # Without the bare name an unknown tenant would meet AccessDenied (a 5xx) instead of a 401.
    for purpose in SECRET_PURPOSES[function]:
        for corp_id in TENANTS:
            for suffix in SUFFIXES:
                arn = _secret(corp_id, purpose, suffix)
                assert _allows(function, "secretsmanager:GetSecretValue", arn), arn


@pytest.mark.parametrize("function", sorted(SECRET_PURPOSES))
def test_no_function_can_read_every_secret(function: str) -> None:
    assert _readable(function) != set(SecretPurpose)
    others = [
        _arn(f"{PREFIX}/tenants-Ab12Cd"),  # the former all-tenants secret
        _arn(f"{PREFIX}/ww0123456789abcdef/another-purpose-Ab12Cd"),
        _arn(f"{PREFIX}-staging/ww0123456789abcdef/webhook-Ab12Cd"),
        _arn("prod/database/password-Ab12Cd"),
    ]
    for arn in others:
        assert not _allows(function, "secretsmanager:GetSecretValue", arn), arn


def test_public_functions_cannot_read_payment_keys() -> None:
    assert {"OrderWebhookFunction", "WecomCallbackFunction", "AdminApiFunction"} <= set(PUBLIC_FUNCTIONS)
    for function in PUBLIC_FUNCTIONS:
        assert not _readable(function) & PAYMENT_KEYS, function


def test_only_the_admin_api_learns_whether_wecom_pay_is_configured_and_only_from_metadata() -> None:
    for function in STACK.functions:
        describes = {
            purpose
            for purpose in SecretPurpose
            if _allows(function, "secretsmanager:DescribeSecret", _secret(TENANTS[0], purpose, "-Ab12Cd"))
            and _allows(function, "secretsmanager:DescribeSecret", _secret(TENANTS[0], purpose, ""))
        }
        assert describes == ({Purpose.WECOM_PAY} if function == "AdminApiFunction" else set()), function


def test_only_the_all_tenant_schedules_may_list_secret_names() -> None:
    """The org sync and the store's funds-flow pull run for every tenant with the secret; no one else."""
    listing = {f for f in STACK.functions if _allows(f, "secretsmanager:ListSecrets", "*")}
    assert listing == {"OrgSyncFunction", "StoreFlowsFunction"}


def test_no_function_may_change_secrets() -> None:
    for function in STACK.functions:
        for action in ("PutSecretValue", "UpdateSecret", "CreateSecret", "DeleteSecret", "GetResourcePolicy"):
            assert not _allows(
                function, f"secretsmanager:{action}", _secret(TENANTS[0], "webhook", "-Ab12Cd")
            )


# --- the table ---------------------------------------------------------------------------------

TABLE_ARN = str(RESOLVER.attributes[("IncentivesTable", "Arn")])
KINDS = sorted(set(re.findall(r"`T#<corp>#([A-Z_]+)#", (ROOT / "docs" / "data-model.md").read_text("utf-8"))))
"""Every item kind of the table (the segment after the tenant), as docs/data-model.md lists them."""
WRITES = ("PutItem", "UpdateItem", "DeleteItem")

WRITABLE_KINDS: dict[str, set[str]] = {
    "OrderWebhookFunction": {"EVENT"},  # the raw event, nothing else: it is public
    "WecomCallbackFunction": set(),  # decrypts and queues
    "AfterSalesWindowFunction": set(),  # emits events; the processor applies them
    # PayoutRepository: a payout, its ledger entries, the listed status of the withdrawal it
    # pays, the reward totals a guide reward's payment adds to
    "PayoutWorkerFunction": {"PAYOUT", "ACCT", "AFF_WITHDRAWAL", "GUIDE_REWARD_TOTALS"},
    "PayoutReconcilerFunction": {"PAYOUT", "ACCT", "AFF_WITHDRAWAL", "GUIDE_REWARD_TOTALS"},
    "LedgerSettlementFunction": {"ACCT", "AFF_ORDER"},  # holds, and the commission shares they settle
    "OrgSyncFunction": {"DEPT", "GUIDE", "WECOM_TOKEN"},  # the organization and the WeCom token cache
}
"""Item kinds a function may write, for the functions whose writes IAM confines (``dynamodb:LeadingKeys``).

The event processor and the API functions write most kinds (orders, ledger, affiliates, guides,
customers, settings …): a list of prefixes there would be nearly the whole table, so they keep
table-wide item actions (docs/decisions.md, "Table access narrowed by partition key")."""


def _may(function: str, action: str, pk: str) -> bool:
    request = Request(f"dynamodb:{action}", TABLE_ARN, (pk,))
    return bool(allowing(function_statements(STACK, RESOLVER, function), request))


def _pk(kind: str) -> str:
    return f"T#ww0123456789abcdef#{kind}#id-1"


def test_the_data_model_lists_the_item_kinds() -> None:
    assert {"EVENT", "ORDER", "ACCT", "PAYOUT", "DEPT", "AFF_ORDER", "WECOM_TOKEN"} <= set(KINDS)


@pytest.mark.parametrize("function", sorted(WRITABLE_KINDS))
def test_a_narrowed_function_writes_only_its_item_kinds(function: str) -> None:
    writable = {kind for kind in KINDS if any(_may(function, action, _pk(kind)) for action in WRITES)}
    assert writable == WRITABLE_KINDS[function]
    assert not any(_may(function, action, "WINDOW_OPEN#3") for action in WRITES)  # no key outside a tenant


def test_the_public_webhook_reads_nothing_from_the_table() -> None:
    for action in (
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "UpdateItem",
        "DeleteItem",
        "ConditionCheckItem",
    ):
        assert not any(_may("OrderWebhookFunction", action, _pk(kind)) for kind in KINDS), action


def test_the_after_sales_job_reads_no_item_again_its_due_entries_carry_what_it_needs() -> None:
    readable = {kind for kind in KINDS if _may("AfterSalesWindowFunction", "GetItem", _pk(kind))}
    assert readable == set()
