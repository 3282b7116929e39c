"""WeChat Pay transfers to a user's wallet (v3): signing, the request, and what each answer means."""

from __future__ import annotations

import base64
import http.client
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from incentives.core.errors import InvalidInput
from incentives.ledger.model import Account, OwnerKind
from incentives.payouts.model import Payee, Payout, PayoutStatus, ProviderName, payout_id_for
from incentives.payouts.provider import Outcome, ProviderResult
from incentives.payouts.wechat_pay import sign, signing_message
from incentives.payouts.wechat_transfer import QUERY_PATH, TRANSFER_PATH, WeChatTransfer, WeChatTransferConfig
from incentives.runtime import wiring
from incentives.runtime.secrets import SecretPurpose, split_by_purpose
from infra.local.config import LocalConfig
from infra.local.sandboxes.payments import Merchant, PaymentsSandbox, PaymentsSandboxServer
from tests.support import free_port

AT = datetime(2026, 11, 24, tzinfo=UTC)
MCH_ID = "1900000109"
APPID = "wxd930ea5d5a258f4f"
SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
NOW = 1_795_000_000
NONCE = "593BEC0C930BF1AFEB40B4A08C8FB242"


@cache
def _key(name: str = "merchant") -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _config(**changes: Any) -> WeChatTransferConfig:
    config = WeChatTransferConfig(MCH_ID, APPID, SERIAL, _pem(_key()), base_url="http://wechatpay.test")
    return replace(config, **changes)


def _payout(amount_fen: int = 300, source: str = "withdrawal:w-1", **changes: Any) -> Payout:
    values: dict[str, Any] = dict(
        payout_id=payout_id_for("ww-1", source),
        payee=Payee(Account("ww-1", OwnerKind.AFFILIATE, "aff-1"), "oAffiliate1"),
        amount_fen=amount_fen,
        provider=ProviderName.WECHAT_TRANSFER,
        source=source,
        description="推广佣金 11月",
        status=PayoutStatus.QUEUED,
        created_at=AT,
        updated_at=AT,
    )
    values.update(changes)
    return Payout(**values)


@dataclass
class FakeTransport:
    """Records each request and plays back canned answers (or raises them)."""

    answers: list[tuple[int, bytes] | tuple[int, bytes, Mapping[str, str]] | Exception]
    requests: list[tuple[str, str, bytes | None, dict[str, str]]] = field(default_factory=list)

    def __call__(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str], timeout: float
    ) -> tuple[int, bytes, Mapping[str, str]]:
        self.requests.append((method, url, body, dict(headers)))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return (answer[0], answer[1], {}) if len(answer) == 2 else answer


def _json(status: int, document: Any) -> tuple[int, bytes]:
    return status, json.dumps(document, ensure_ascii=False).encode()


def _provider(
    *answers: tuple[int, bytes] | tuple[int, bytes, Mapping[str, str]] | Exception, **changes: Any
) -> tuple[WeChatTransfer, FakeTransport]:
    transport = FakeTransport(list(answers))
    return WeChatTransfer(_config(**changes), transport, clock=lambda: NOW, nonce=lambda: NONCE), transport


def _fields(header: str) -> dict[str, str]:
    scheme, _, rest = header.partition(" ")
    assert scheme == "WECHATPAY2-SHA256-RSA2048"
    return dict(re.findall(r'(\w+)="([^"]*)"', rest))


# --- signing and the request --------------------------------------------------------------------


def test_the_transfer_is_signed_over_the_documented_message() -> None:
    provider, transport = _provider(_json(200, {"out_bill_no": _payout().payout_id, "state": "ACCEPTED"}))
    provider.transfer(_payout())
    method, url, body, headers = transport.requests[0]
    assert (method, url) == ("POST", "http://wechatpay.test/v3/fund-app/mch-transfer/transfer-bills")
    assert body is not None and headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"
    fields = _fields(headers["Authorization"])
    assert {k: v for k, v in fields.items() if k != "signature"} == {
        "mchid": MCH_ID,
        "nonce_str": NONCE,
        "timestamp": str(NOW),
        "serial_no": SERIAL,
    }
    message = f"POST\n/v3/fund-app/mch-transfer/transfer-bills\n{NOW}\n{NONCE}\n{body.decode()}\n".encode()
    _key().public_key().verify(
        base64.b64decode(fields["signature"]), message, padding.PKCS1v15(), hashes.SHA256()
    )


def test_a_query_signs_its_path_and_an_empty_body() -> None:
    payout = _payout()
    provider, transport = _provider(_json(404, {"code": "NOT_FOUND", "message": "记录不存在"}))
    assert provider.query(payout).outcome is Outcome.NOT_FOUND
    method, url, body, headers = transport.requests[0]
    path = f"/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{payout.payout_id}"
    assert (method, url, body) == ("GET", f"http://wechatpay.test{path}", None)
    assert "Content-Type" not in headers
    signature = base64.b64decode(_fields(headers["Authorization"])["signature"])
    message = f"GET\n{path}\n{NOW}\n{NONCE}\n\n".encode()
    _key().public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())


def test_sign_matches_the_message_helper() -> None:
    message = signing_message("GET", QUERY_PATH.format(out_bill_no="po1"), "1", "N", b"")
    assert message == b"GET\n/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/po1\n1\nN\n\n"
    _key().public_key().verify(
        base64.b64decode(sign(_key(), message)), message, padding.PKCS1v15(), hashes.SHA256()
    )


def test_every_attempt_of_a_payout_sends_the_same_body() -> None:
    provider, _ = _provider()
    payout = _payout(description="推广佣金 " + "很长的说明" * 10)
    first = provider.transfer_body(payout)
    assert provider.transfer_body(payout.sending(AT).sending(AT + timedelta(minutes=5))) == first
    document = json.loads(first)
    assert document == {
        "appid": APPID,
        "out_bill_no": payout.payout_id,
        "transfer_scene_id": "1000",
        "openid": "oAffiliate1",
        "transfer_amount": 300,
        "transfer_remark": payout.description[:32],
        "transfer_scene_report_infos": [
            {"info_type": "活动名称", "info_content": "推广奖励"},
            {"info_type": "奖励说明", "info_content": payout.description[:32]},
        ],
    }
    assert len(document["transfer_remark"]) == 32


def test_optional_fields_come_from_the_configuration() -> None:
    provider, _ = _provider(
        transfer_scene_id="1005",
        scene_report_infos=(("岗位类型", "推广员"), ("报酬说明", "{description}")),
        user_recv_perception="劳务报酬",
        notify_url="https://example.com/wechatpay/transfer",
    )
    document = provider.transfer_document(_payout())
    assert document["transfer_scene_id"] == "1005"
    assert document["transfer_scene_report_infos"][1] == {
        "info_type": "报酬说明",
        "info_content": "推广佣金 11月",
    }
    assert document["user_recv_perception"] == "劳务报酬"
    assert document["notify_url"] == "https://example.com/wechatpay/transfer"


def test_a_key_that_is_not_rsa_is_refused() -> None:
    with pytest.raises(ValueError):
        WeChatTransfer(_config(private_key_pem="not a key"), FakeTransport([]))


# --- what answers mean ----------------------------------------------------------------------------

PAYOUT_ID = _payout().payout_id


def _bill(state: str, **more: Any) -> tuple[int, bytes]:
    return _json(
        200,
        {
            "out_bill_no": PAYOUT_ID,
            "transfer_bill_no": "1330000071100999991182020050700019480001",
            "create_time": "2026-11-24T10:00:00+08:00",
            "state": state,
            **more,
        },
    )


@pytest.mark.parametrize(
    ("answer", "outcome", "code"),
    [
        (_bill("SUCCESS"), Outcome.SUCCESS, ""),
        (_bill("ACCEPTED"), Outcome.AMBIGUOUS, "ACCEPTED"),
        (_bill("PROCESSING"), Outcome.AMBIGUOUS, "PROCESSING"),
        (_bill("TRANSFERING"), Outcome.AMBIGUOUS, "TRANSFERING"),
        (
            _bill("WAIT_USER_CONFIRM", package_info="affffddafdfafddffda=="),
            Outcome.WAITING,
            "WAIT_USER_CONFIRM",
        ),
        (_bill("CANCELING"), Outcome.AMBIGUOUS, "CANCELING"),
        (_bill("FAIL", fail_reason="OPENID_INVALID"), Outcome.FAILED, "OPENID_INVALID"),
        (_bill("CANCELLED"), Outcome.CANCELLED, "CANCELLED"),
        (_bill("SOMETHING_NEW"), Outcome.AMBIGUOUS, "SOMETHING_NEW"),
        (_json(200, {"out_bill_no": "po-other", "state": "SUCCESS"}), Outcome.AMBIGUOUS, "MISMATCH"),
        (_json(200, {"out_bill_no": PAYOUT_ID, "state": "SUCCESS"}), Outcome.AMBIGUOUS, "UNREADABLE"),
        (_json(403, {"code": "NOT_ENOUGH", "message": "商户余额不足"}), Outcome.FAILED, "NOT_ENOUGH"),
        (_json(400, {"code": "PARAM_ERROR", "message": "参数错误"}), Outcome.FAILED, "PARAM_ERROR"),
        (
            _json(400, {"code": "INVALID_REQUEST", "message": "参数与原请求不一致"}),
            Outcome.FAILED,
            "INVALID_REQUEST",
        ),
        (_json(403, {"code": "NO_AUTH", "message": "无权限"}), Outcome.FAILED, "NO_AUTH"),
        (_json(401, {"code": "SIGN_ERROR", "message": "签名错误"}), Outcome.FAILED, "SIGN_ERROR"),
        (
            _json(400, {"code": "OPENID_INVALID", "message": "openid 不正确"}),
            Outcome.FAILED,
            "OPENID_INVALID",
        ),
        (_json(500, {"code": "SYSTEM_ERROR", "message": "系统错误"}), Outcome.AMBIGUOUS, "SYSTEM_ERROR"),
        (
            _json(429, {"code": "FREQUENCY_LIMITED", "message": "频率超限"}),
            Outcome.AMBIGUOUS,
            "FREQUENCY_LIMITED",
        ),
        (_json(403, {"code": "SOMETHING_NEW", "message": "?"}), Outcome.AMBIGUOUS, "SOMETHING_NEW"),
        (_json(500, {"code": "NOT_ENOUGH", "message": "?"}), Outcome.AMBIGUOUS, "NOT_ENOUGH"),
        ((502, b"<html>Bad Gateway</html>"), Outcome.AMBIGUOUS, "UNREADABLE"),
        ((503, b""), Outcome.AMBIGUOUS, "HTTP_503"),
        ((200, b"[1, 2]"), Outcome.AMBIGUOUS, "UNREADABLE"),
        (TimeoutError("timed out"), Outcome.AMBIGUOUS, "TIMEOUT"),
        (urllib.error.URLError(TimeoutError("timed out")), Outcome.AMBIGUOUS, "TIMEOUT"),
        (urllib.error.URLError(ConnectionRefusedError(111, "refused")), Outcome.AMBIGUOUS, "NETWORK"),
        (ConnectionResetError(104, "reset"), Outcome.AMBIGUOUS, "NETWORK"),
        (http.client.IncompleteRead(b"{"), Outcome.AMBIGUOUS, "NETWORK"),
    ],
)
def test_each_transfer_answer_maps_to_its_outcome(
    answer: tuple[int, bytes] | Exception, outcome: Outcome, code: str
) -> None:
    provider, _ = _provider(answer)
    result = provider.transfer(_payout())
    assert (result.outcome, result.code) == (outcome, code)


def test_a_successful_transfer_carries_its_bill_number_and_time() -> None:
    provider, _ = _provider(_bill("SUCCESS", update_time="2026-11-24T10:00:05+08:00"))
    result = provider.transfer(_payout())
    assert result == ProviderResult(
        Outcome.SUCCESS,
        transaction_id="1330000071100999991182020050700019480001",
        paid_at=datetime(2026, 11, 24, 10, 0, 5, tzinfo=timezone(timedelta(hours=8))),
    )


@pytest.mark.parametrize(
    ("answer", "outcome", "code"),
    [
        (_bill("SUCCESS"), Outcome.SUCCESS, ""),
        (_bill("ACCEPTED"), Outcome.PROCESSING, "ACCEPTED"),
        (_bill("PROCESSING"), Outcome.PROCESSING, "PROCESSING"),
        (_bill("TRANSFERING"), Outcome.PROCESSING, "TRANSFERING"),
        (_bill("WAIT_USER_CONFIRM"), Outcome.WAITING, "WAIT_USER_CONFIRM"),
        (_bill("CANCELING"), Outcome.PROCESSING, "CANCELING"),
        (_bill("FAIL", fail_reason="ACCOUNT_FROZEN"), Outcome.FAILED, "ACCOUNT_FROZEN"),
        (_bill("CANCELLED"), Outcome.CANCELLED, "CANCELLED"),
        (_bill(""), Outcome.AMBIGUOUS, "UNKNOWN"),
        (_json(404, {"code": "NOT_FOUND", "message": "记录不存在"}), Outcome.NOT_FOUND, "NOT_FOUND"),
        ((404, b"<html>no route</html>"), Outcome.AMBIGUOUS, "UNREADABLE"),
        (_json(404, {"code": "RESOURCE_NOT_EXISTS"}), Outcome.AMBIGUOUS, "RESOURCE_NOT_EXISTS"),
        (_json(401, {"code": "SIGN_ERROR", "message": "签名错误"}), Outcome.AMBIGUOUS, "SIGN_ERROR"),
        (_json(400, {"code": "PARAM_ERROR", "message": "参数错误"}), Outcome.AMBIGUOUS, "PARAM_ERROR"),
        (_json(500, {"code": "SYSTEM_ERROR", "message": "系统错误"}), Outcome.AMBIGUOUS, "SYSTEM_ERROR"),
        (TimeoutError("timed out"), Outcome.AMBIGUOUS, "TIMEOUT"),
    ],
)
def test_each_query_answer_maps_to_its_outcome(
    answer: tuple[int, bytes] | Exception, outcome: Outcome, code: str
) -> None:
    provider, _ = _provider(answer)
    result = provider.query(_payout())
    assert (result.outcome, result.code) == (outcome, code)


# --- against the payments sandbox over HTTP ----------------------------------------------------------


@dataclass
class Sandbox:
    books: PaymentsSandbox
    base_url: str

    def provider(
        self, key: rsa.RSAPrivateKey | None = None, clock: Callable[[], float] = time.time
    ) -> WeChatTransfer:
        config = _config(base_url=self.base_url, private_key_pem=_pem(key or _key()), timeout_seconds=2)
        return WeChatTransfer(config, clock=clock)

    @property
    def balance(self) -> int:
        return self.books.merchants[MCH_ID].balance_fen


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    merchant = Merchant(
        MCH_ID, "k" * 32, "pay-secret", balance_fen=50_000, v3_public_key_pem=_public_pem(_key())
    )
    books = PaymentsSandbox({MCH_ID: merchant}, timeout_delay_seconds=3, transfers_need_confirmation=False)
    server = PaymentsSandboxServer(books, "127.0.0.1", free_port())
    server.start()
    yield Sandbox(books, server.base_url)
    server.stop()


def test_a_transfer_moves_the_money_once_even_when_retried(sandbox: Sandbox) -> None:
    provider, payout = sandbox.provider(), _payout(1_000)
    first = provider.transfer(payout)
    assert first.outcome is Outcome.SUCCESS and first.transaction_id and first.paid_at is not None
    again = provider.transfer(payout.sending(AT))
    assert again.outcome is Outcome.SUCCESS and again.transaction_id == first.transaction_id
    assert sandbox.balance == 49_000 and len(sandbox.books.transfers_made()) == 1
    assert sandbox.books.numbers_seen == [("transfer", payout.payout_id)] * 2


def test_a_retry_with_other_parameters_is_refused(sandbox: Sandbox) -> None:
    provider, payout = sandbox.provider(), _payout(1_000)
    assert provider.transfer(payout).outcome is Outcome.SUCCESS
    changed = provider.transfer(replace(payout, amount_fen=2_000))
    assert (changed.outcome, changed.code) == (Outcome.FAILED, "INVALID_REQUEST")
    assert sandbox.balance == 49_000 and len(sandbox.books.transfers_made()) == 1


def test_a_bad_signature_is_refused_401_and_moves_nothing(sandbox: Sandbox) -> None:
    impostor = sandbox.provider(key=_key("impostor"))
    refused = impostor.transfer(_payout())
    assert (refused.outcome, refused.code) == (Outcome.FAILED, "SIGN_ERROR")
    assert impostor.query(_payout()).outcome is Outcome.AMBIGUOUS  # a refused query says nothing of the money
    stale = sandbox.provider(clock=lambda: time.time() - 600).transfer(_payout())
    assert (stale.outcome, stale.code) == (Outcome.FAILED, "SIGN_ERROR")
    assert sandbox.books.transfers_made() == [] and sandbox.balance == 50_000


def test_a_tampered_body_does_not_verify(sandbox: Sandbox) -> None:
    provider, payout = sandbox.provider(), _payout(1_000)
    body = provider.transfer_body(payout)
    headers = provider.headers("POST", TRANSFER_PATH, body)
    tampered = body.replace(b'"transfer_amount":1000', b'"transfer_amount":9000')
    request = urllib.request.Request(sandbox.base_url + TRANSFER_PATH, tampered, headers, method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=2)
    assert refused.value.code == 401 and json.loads(refused.value.read())["code"] == "SIGN_ERROR"
    assert sandbox.books.transfers_made() == []


def test_the_sandbox_requires_appid_scene_and_report_infos(sandbox: Sandbox) -> None:
    provider, payout = sandbox.provider(), _payout()
    for drop in ("appid", "transfer_scene_id", "transfer_scene_report_infos"):
        document = provider.transfer_document(payout)
        del document[drop]
        body = json.dumps(document, ensure_ascii=False).encode()
        answer = sandbox.books.transfer_bill(
            body, provider.headers("POST", TRANSFER_PATH, body)["Authorization"]
        )
        assert (answer.status, json.loads(answer.body)["code"]) == (400, "PARAM_ERROR"), drop
    assert sandbox.books.transfers_made() == []


def test_a_query_finds_the_transfer_or_says_not_found(sandbox: Sandbox) -> None:
    provider, payout = sandbox.provider(), _payout(1_000)
    assert provider.query(payout).outcome is Outcome.NOT_FOUND
    made = provider.transfer(payout)
    found = provider.query(payout)
    assert found.outcome is Outcome.SUCCESS and found.transaction_id == made.transaction_id
    assert found.paid_at is not None


def test_sandbox_faults_map_to_failed_and_ambiguous(sandbox: Sandbox) -> None:
    sandbox.books.add_faults("transfer", ["NOTENOUGH", "SYSTEMERROR", "FREQ_LIMIT"])
    provider, payout = sandbox.provider(), _payout()
    results = [provider.transfer(payout) for _ in range(3)]
    assert [(r.outcome, r.code) for r in results] == [
        (Outcome.FAILED, "NOT_ENOUGH"),
        (Outcome.AMBIGUOUS, "SYSTEM_ERROR"),
        (Outcome.AMBIGUOUS, "FREQUENCY_LIMITED"),
    ]
    assert sandbox.books.transfers_made() == []
    assert provider.transfer(_payout(60_000, "withdrawal:big")).code == "NOT_ENOUGH"


def test_a_systemerror_after_the_transfer_is_ambiguous_and_the_query_finds_it(sandbox: Sandbox) -> None:
    sandbox.books.add_faults("transfer", ["SYSTEMERROR_AFTER"])
    provider, payout = sandbox.provider(), _payout(1_000)
    assert provider.transfer(payout).outcome is Outcome.AMBIGUOUS
    assert provider.query(payout).outcome is Outcome.SUCCESS and sandbox.balance == 49_000


# --- wiring and the local stack's secrets ------------------------------------------------------------


Secrets = dict[SecretPurpose, Any]


@pytest.fixture
def tenant_secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Secrets]:
    secrets: dict[SecretPurpose, Any] = {}
    monkeypatch.setattr(wiring, "tenant_secret", lambda corp_id, purpose: secrets.get(purpose, {}))
    wiring.payout_providers.cache_clear()
    yield secrets
    wiring.payout_providers.cache_clear()


def test_a_tenant_with_wechat_pay_gets_the_transfer_provider(tenant_secrets: Secrets) -> None:
    assert ProviderName.WECHAT_TRANSFER not in wiring.payout_providers("ww-1")
    wiring.payout_providers.cache_clear()
    tenant_secrets[SecretPurpose.WECHAT_PAY] = {
        "mch_id": MCH_ID,
        "appid": APPID,
        "serial_no": SERIAL,
        "private_key_pem": _pem(_key()),
        "scene_report_infos": [{"info_type": "活动名称", "info_content": "会员推广"}],
    }
    config = wiring.wechat_pay_config("ww-1")
    assert config is not None and config.transfer_scene_id == "1000"
    assert config.scene_report_infos == (("活动名称", "会员推广"),)
    assert isinstance(wiring.payout_providers("ww-1")[ProviderName.WECHAT_TRANSFER], WeChatTransfer)


def test_an_incomplete_wechat_pay_secret_names_what_is_missing(tenant_secrets: Secrets) -> None:
    tenant_secrets[SecretPurpose.WECHAT_PAY] = {"mch_id": MCH_ID, "serial_no": SERIAL, "private_key_pem": "x"}
    with pytest.raises(InvalidInput, match="appid"):
        wiring.wechat_pay_config("ww-1")
    tenant_secrets[SecretPurpose.WECHAT_PAY]["appid"] = APPID
    with pytest.raises(InvalidInput, match="private_key_pem"):
        wiring.payout_providers("ww-1")


def test_the_local_tenant_secret_signs_what_the_sandbox_merchant_verifies() -> None:
    config = LocalConfig.from_env()
    secret = split_by_purpose(config.tenant_secrets()[config.corp_id])[SecretPurpose.WECHAT_PAY]
    assert secret["mch_id"] == config.wechat_pay_mch_id and secret["appid"] == config.wechat_pay_appid
    key = serialization.load_pem_private_key(secret["private_key_pem"].encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert _public_pem(key) == config.merchant_public_key_pem
