"""A faithful local stand-in for WeChat Pay's transfer APIs, with switchable faults.

Implements what the payout providers call:
- WeCom pay-to-employee ``paywwsptrans2pocket`` and its query ``querywwsptrans2pocket``
  (v2 XML; checks ``sign`` and ``workwx_sign``; idempotent on ``partner_trade_no``);
- WeChat Pay transfer to a user's wallet ``POST /v3/fund-app/mch-transfer/transfer-bills`` and
  its query ``GET …/transfer-bills/out-bill-no/{out_bill_no}`` (v3 JSON; idempotent on
  ``out_bill_no``). Requests are checked as WeChat Pay checks them: an ``Authorization`` header
  ``WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,signature=…,timestamp=…,serial_no=…`` naming a
  known merchant (else 401 SIGN_ERROR). When the merchant has ``v3_public_key_pem`` the signature
  over ``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY\\n`` must verify with it within five minutes of its
  timestamp (else 401 SIGN_ERROR), and a transfer must carry ``appid``, ``transfer_scene_id``, a
  remark of at most 32 characters and, for scene 1000, the 活动名称 and 奖励说明 report infos
  (else 400 PARAM_ERROR). A merchant without that key is checked loosely (header shape only), as
  the v2-only tests expect. A query's header is checked the same way when it has one.

WeChat Pay's side of a transfer bill, and the payee's, as the current product has them:

- a transfer takes the amount from the merchant's balance and makes a bill that waits for the
  payee: ``WAIT_USER_CONFIRM`` with a ``package_info`` (``transfers_need_confirmation``; off, the
  bill is paid at once as the older product did); a query tells the state but not the package,
  the same number and body sent again answer with it;
- the payee confirms with that package (``POST /sandbox/transfer-bills/{out_bill_no}/confirm``
  ``{"package": …}``): ``SUCCESS``, the money reaches them (``executed``); or declines
  (``…/decline``): ``CANCELLED``, the amount goes back to the merchant; ``…/fail``
  ``{"reason"}`` ends it ``FAIL``; or does nothing, and after ``close_unconfirmed_after_seconds``
  (24 h) the bill closes ``CANCELLED`` by itself;
- ``POST /v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}/cancel`` withdraws an
  unconfirmed bill (the answer says ``CANCELING``; the bill is ``CANCELLED``);
- every v3 answer is signed with the sandbox's WeChat Pay key (``Wechatpay-Timestamp``,
  ``-Nonce``, ``-Signature``, ``-Serial`` = ``platform_key_id``);
- when a bill ends, a ``MCHTRANSFER.BILL.FINISHED`` notification, signed the same way and with
  its resource encrypted (AES-256-GCM) under the merchant's ``api_v3_key``, goes to the bill's
  ``notify_url``: POSTed by the server (retried a few times until answered 2xx), or left in
  ``outbox`` for an in-process caller to deliver. ``POST …/{out_bill_no}/notify`` sends the last
  one again.

Faults are queued per operation (``pay``, ``pay_query``, ``transfer``, ``transfer_query``,
``transfer_cancel``) and consumed one per call:

- ``timeout``: the transfer is made, but the answer comes after the client gave up;
- ``timeout_before``: the answer is late and nothing was made;
- ``SYSTEMERROR``: nothing made, SYSTEMERROR returned; ``SYSTEMERROR_AFTER``: made, SYSTEMERROR returned;
- ``NOTENOUGH``, ``FREQ_LIMIT``: refused with that code, nothing made.

Control endpoints under ``/sandbox/``: ``POST faults`` ``{"operation", "faults": [...]}``,
``GET transfers`` (money that reached payees), ``GET transfer-bills/{out_bill_no}``,
``POST transfer-bills/{out_bill_no}/confirm|decline|fail|notify``, ``GET notifications``,
``POST settings`` ``{"transfers_need_confirmation": bool}``, ``POST balance``
``{"mch_id", "balance_fen"}``, ``POST reset`` (every sandbox of the local stack, balances included).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cache
from http.server import BaseHTTPRequestHandler
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from incentives.payouts.wechat_notify import BILL_FINISHED, encrypt
from incentives.payouts.wechat_pay import load_private_key
from incentives.payouts.wecom_pay import from_xml, pay_sign, to_xml, workwx_sign
from infra.local.sandboxes.server import SandboxServer

CHINA = ZoneInfo("Asia/Shanghai")
OPERATIONS = ("pay", "pay_query", "transfer", "transfer_query", "transfer_cancel")
FAULTS = ("timeout", "timeout_before", "SYSTEMERROR", "SYSTEMERROR_AFTER", "NOTENOUGH", "FREQ_LIMIT")
V3_SCHEME = "WECHATPAY2-SHA256-RSA2048"
V3_AUTH_FIELDS = ("mchid", "nonce_str", "signature", "timestamp", "serial_no")
V3_AUTH_FIELD = re.compile(r'([a-z_]+)="([^"]*)"')
V3_TRANSFER_PATH = "/v3/fund-app/mch-transfer/transfer-bills"
V3_QUERY_PREFIX = "/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/"
V3_CANCEL_SUFFIX = "/cancel"
BILL_CONTROL_PREFIX = "/sandbox/transfer-bills/"
PAYEE_ACTIONS = ("confirm", "decline", "fail")
SANDBOX_KEY_ID = "PUB_KEY_ID_0119000001092026000000000000000001"
"""The id (``Wechatpay-Serial``) of the sandbox's WeChat Pay key."""
NOTIFY_RETRY_DELAYS = (0.0, 0.5, 1.0, 2.0, 4.0)
V3_REQUIRED = ("appid", "out_bill_no", "transfer_scene_id", "openid", "transfer_amount", "transfer_remark")
SCENE_REPORT_TYPES = {"1000": ("活动名称", "奖励说明")}
"""Report info types each scene requires (only the scene the provider uses by default)."""
SIGNATURE_MAX_AGE_SECONDS = 300
CLOSE_UNCONFIRMED_AFTER_SECONDS = 24 * 3600.0


@cache
def development_platform_key_pem() -> str:
    """The sandbox's WeChat Pay signing key (private PEM), made once per process."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem_of(private_pem: str) -> str:
    """The public half (PEM) of a private key: what a tenant configures as the WeChat Pay key."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass
class Merchant:
    mch_id: str
    api_key: str
    payment_secret: str
    balance_fen: int = 100_000_000
    v3_public_key_pem: str | None = None
    """Public key of the merchant's API certificate: v3 signatures are verified when it is known."""
    api_v3_key: str = ""
    """The merchant's APIv3 key: notifications' resources are encrypted with it (none without it)."""


@dataclass
class Transfer:
    channel: str
    number: str
    mch_id: str
    openid: str
    amount_fen: int
    description: str
    transaction_id: str
    made_at: str
    request_digest: str
    state: str = "SUCCESS"
    """A v3 bill's state: WAIT_USER_CONFIRM, SUCCESS, CANCELLED or FAIL."""
    package_info: str = ""
    notify_url: str = ""
    appid: str = ""
    fail_reason: str = ""
    updated_at: str = ""
    created_ts: float = 0.0


@dataclass
class Answer:
    """What the HTTP layer sends: a body, and how long to wait before sending it."""

    status: int
    body: bytes
    content_type: str = "text/xml; charset=utf-8"
    delay_seconds: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Notice:
    """A signed, encrypted result notification on its way to a bill's ``notify_url``."""

    url: str
    out_bill_no: str
    state: str
    body: bytes
    headers: dict[str, str]


@dataclass
class PaymentsSandbox:
    """The provider's books: merchants, transfers made, and the faults still to play."""

    merchants: dict[str, Merchant]
    timeout_delay_seconds: float = 6.0
    transfers: dict[tuple[str, str], Transfer] = field(default_factory=dict)
    """The provider's idempotency index: (channel, number) → the transfer made under it."""
    executed: list[Transfer] = field(default_factory=list)
    """Every movement of money, in order: a number paid twice would show here twice."""
    faults: dict[str, deque[str]] = field(default_factory=lambda: {op: deque() for op in OPERATIONS})
    calls: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPERATIONS, 0))
    numbers_seen: list[tuple[str, str]] = field(default_factory=list)
    """(operation, idempotency number) of every call, to check a retry reused its number."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    clock: Callable[[], float] = time.time
    """Unix time: signatures' timestamps, bills' times and their closing (the simulation's own)."""
    transfers_need_confirmation: bool = True
    """A v3 transfer waits for its payee (WAIT_USER_CONFIRM); off: paid at once."""
    platform_key_pem: str = field(default_factory=development_platform_key_pem)
    """The sandbox's WeChat Pay private key; tenants configure its public half."""
    platform_key_id: str = SANDBOX_KEY_ID
    close_unconfirmed_after_seconds: float = CLOSE_UNCONFIRMED_AFTER_SECONDS
    notifier: Callable[[Notice], None] | None = None
    """Sends a notification (the server POSTs it); None: it waits in ``outbox``."""
    outbox: list[Notice] = field(default_factory=list)
    last_notice: dict[str, Notice] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    """Every notification POST the server made: out_bill_no, state, url, HTTP status, attempt."""
    _initial: dict[str, Any] = field(default_factory=dict, repr=False)
    """What ``reset`` restores: each merchant's balance and the settings as first built."""

    def __post_init__(self) -> None:
        self._initial = {
            "balances": {mch_id: merchant.balance_fen for mch_id, merchant in self.merchants.items()},
            "transfers_need_confirmation": self.transfers_need_confirmation,
        }

    @property
    def platform_public_key_pem(self) -> str:
        return public_pem_of(self.platform_key_pem)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), CHINA)

    def add_faults(self, operation: str, faults: list[str]) -> None:
        if operation not in OPERATIONS:
            raise ValueError(f"operation must be one of {OPERATIONS}")
        unknown = [fault for fault in faults if fault not in FAULTS]
        if unknown:
            raise ValueError(f"unknown faults {unknown}; known: {FAULTS}")
        with self.lock:
            self.faults[operation].extend(faults)

    def reset(self) -> None:
        """Back to the books as first built: no transfers, calls, faults or notifications, each
        merchant's first balance, the first settings."""
        with self.lock:
            for mch_id, balance in self._initial["balances"].items():
                self.merchants[mch_id].balance_fen = balance
            self.transfers_need_confirmation = self._initial["transfers_need_confirmation"]
            self.transfers.clear()
            self.executed.clear()
            for queue in self.faults.values():
                queue.clear()
            self.calls = dict.fromkeys(OPERATIONS, 0)
            self.numbers_seen.clear()
            self.outbox.clear()
            self.last_notice.clear()
            self.deliveries.clear()

    def _next_fault(self, operation: str, number: str = "") -> str | None:
        self.calls[operation] += 1
        self.numbers_seen.append((operation, number))
        queue = self.faults[operation]
        return queue.popleft() if queue else None

    # --- WeCom pay-to-employee (v2, XML) -------------------------------------------------------

    def _v2_error(self, code: str, description: str, delay: float = 0.0) -> Answer:
        fields = {
            "return_code": "SUCCESS",
            "return_msg": "OK",
            "result_code": "FAIL",
            "err_code": code,
            "err_code_des": description,
        }
        return Answer(200, to_xml(fields), delay_seconds=delay)

    def _v2_checked(self, params: dict[str, str], signed_by_app: bool) -> Merchant | Answer:
        merchant = self.merchants.get(params.get("mch_id", ""))
        if merchant is None:
            return self._v2_error("PARAM_ERROR", "mch_id 不存在")
        if params.get("sign") != pay_sign(params, merchant.api_key):
            return Answer(200, to_xml({"return_code": "FAIL", "return_msg": "签名错误"}))
        if signed_by_app:
            missing = [
                key
                for key in (
                    "appid",
                    "nonce_str",
                    "partner_trade_no",
                    "openid",
                    "amount",
                    "desc",
                    "spbill_create_ip",
                    "ww_msg_type",
                    "workwx_sign",
                )
                if not params.get(key)
            ]
            if missing:
                return self._v2_error("PARAM_ERROR", f"缺少参数 {', '.join(missing)}")
            if params["workwx_sign"] != workwx_sign(params, merchant.payment_secret):
                return self._v2_error("PARAM_ERROR", "workwx_sign 签名错误")
        return merchant

    def pay_to_employee(self, body: bytes) -> Answer:
        params = from_xml(body)
        with self.lock:
            checked = self._v2_checked(params, signed_by_app=True)
            if isinstance(checked, Answer):
                return checked
            merchant, number = checked, params["partner_trade_no"]
            if not number.isalnum() or len(number) > 32:
                return self._v2_error("PARAM_ERROR", "partner_trade_no 只能是字母或者数字, 不超过32位")
            amount = int(params["amount"])
            if amount < 100:
                return self._v2_error("AMOUNT_LIMIT", "付款金额不能小于最低限额(1元)")
            digest = f"{params['openid']}|{amount}|{params['desc']}"
            fault = self._next_fault("pay", number)
            if fault == "timeout_before":
                return self._v2_error("SYSTEMERROR", "系统繁忙", delay=self.timeout_delay_seconds)
            if fault in ("SYSTEMERROR", "NOTENOUGH", "FREQ_LIMIT"):
                texts = {
                    "SYSTEMERROR": "系统繁忙,请稍后再试。",
                    "NOTENOUGH": "余额不足",
                    "FREQ_LIMIT": "超过频率限制",
                }
                return self._v2_error(fault, texts[fault])
            existing = self.transfers.get(("pay", number))
            if existing is not None:
                if existing.request_digest != digest:
                    return self._v2_error("PARAM_ERROR", "商户订单号重复, 参数与原请求不一致")
                transfer = existing
            else:
                if merchant.balance_fen < amount:
                    return self._v2_error("NOTENOUGH", "余额不足")
                merchant.balance_fen -= amount
                transfer = Transfer(
                    "pay",
                    number,
                    merchant.mch_id,
                    params["openid"],
                    amount,
                    params["desc"],
                    transaction_id=f"1{uuid.uuid4().int % 10**27:027d}",
                    made_at=self._now().strftime("%Y-%m-%d %H:%M:%S"),
                    request_digest=digest,
                )
                self.transfers[("pay", number)] = transfer
                self.executed.append(transfer)
            if fault == "SYSTEMERROR_AFTER":
                return self._v2_error("SYSTEMERROR", "系统繁忙,请稍后再试。")
            answer = to_xml(
                {
                    "return_code": "SUCCESS",
                    "return_msg": "OK",
                    "appid": params["appid"],
                    "mch_id": merchant.mch_id,
                    "nonce_str": params["nonce_str"],
                    "result_code": "SUCCESS",
                    "partner_trade_no": number,
                    "payment_no": transfer.transaction_id,
                    "payment_time": transfer.made_at,
                }
            )
            return Answer(
                200, answer, delay_seconds=self.timeout_delay_seconds if fault == "timeout" else 0.0
            )

    def query_pay_to_employee(self, body: bytes) -> Answer:
        params = from_xml(body)
        with self.lock:
            checked = self._v2_checked(params, signed_by_app=False)
            if isinstance(checked, Answer):
                return checked
            fault = self._next_fault("pay_query", params.get("partner_trade_no", ""))
            if fault in ("timeout", "timeout_before"):
                return self._v2_error("SYSTEMERROR", "系统繁忙", delay=self.timeout_delay_seconds)
            if fault is not None:
                return self._v2_error("SYSTEMERROR", "系统繁忙,请稍后再试。")
            transfer = self.transfers.get(("pay", params.get("partner_trade_no", "")))
            if transfer is None:
                return self._v2_error("NOT_FOUND", "指定单号数据不存在")
            return Answer(
                200,
                to_xml(
                    {
                        "return_code": "SUCCESS",
                        "return_msg": "OK",
                        "result_code": "SUCCESS",
                        "mch_id": checked.mch_id,
                        "partner_trade_no": transfer.number,
                        "detail_id": transfer.transaction_id,
                        "status": "SUCCESS",
                        "openid": transfer.openid,
                        "payment_amount": str(transfer.amount_fen),
                        "transfer_time": transfer.made_at,
                        "desc": transfer.description,
                    }
                ),
            )

    # --- WeChat Pay transfer to a user (v3, JSON) ---------------------------------------------

    def _v3(self, status: int, document: dict[str, Any], delay: float = 0.0) -> Answer:
        """A v3 answer, signed with the sandbox's WeChat Pay key as WeChat Pay signs its answers."""
        body = json.dumps(document, ensure_ascii=False).encode()
        return Answer(status, body, "application/json", delay, self._signed_headers(body))

    def _signed_headers(self, body: bytes) -> dict[str, str]:
        stamp, nonce = str(int(self.clock())), secrets.token_hex(16)
        key = load_private_key(self.platform_key_pem)
        message = f"{stamp}\n{nonce}\n".encode() + body + b"\n"
        signature = base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
        return {
            "Wechatpay-Timestamp": stamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": signature,
            "Wechatpay-Serial": self.platform_key_id,
            "Wechatpay-Signature-Type": V3_SCHEME,
        }

    def _v3_authenticated(
        self, method: str, path: str, body: bytes, authorization: str | None
    ) -> Merchant | Answer:
        """The merchant a v3 request is signed by, or the 401 WeChat Pay would answer."""
        if not authorization or not authorization.startswith(f"{V3_SCHEME} "):
            return self._v3(401, {"code": "SIGN_ERROR", "message": "Authorization 缺失或格式错误"})
        fields = dict(V3_AUTH_FIELD.findall(authorization[len(V3_SCHEME) + 1 :]))
        merchant = self.merchants.get(fields.get("mchid", ""))
        if merchant is None:
            return self._v3(401, {"code": "SIGN_ERROR", "message": "Authorization 中的 mchid 无效"})
        if merchant.v3_public_key_pem is None:
            return merchant
        missing = [name for name in V3_AUTH_FIELDS if not fields.get(name)]
        if missing:
            return self._v3(
                401, {"code": "SIGN_ERROR", "message": f"Authorization 缺少 {', '.join(missing)}"}
            )
        stamp = fields["timestamp"]
        if not stamp.isdigit() or abs(self.clock() - int(stamp)) > SIGNATURE_MAX_AGE_SECONDS:
            return self._v3(401, {"code": "SIGN_ERROR", "message": "timestamp 与当前时间相差过大"})
        message = f"{method}\n{path}\n{stamp}\n{fields['nonce_str']}\n".encode() + body + b"\n"
        key = serialization.load_pem_public_key(merchant.v3_public_key_pem.encode())
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError(f"merchant {merchant.mch_id}: v3_public_key_pem is not an RSA public key")
        try:
            key.verify(
                base64.b64decode(fields["signature"], validate=True),
                message,
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, binascii.Error, ValueError):
            return self._v3(401, {"code": "SIGN_ERROR", "message": "签名错误"})
        return merchant

    @staticmethod
    def _v3_request_problem(request: dict[str, Any]) -> str | None:
        """What a strictly checked transfer request lacks or breaks, if anything."""
        missing = [name for name in V3_REQUIRED if request.get(name) in (None, "")]
        if missing:
            return f"缺少参数 {', '.join(missing)}"
        number = str(request["out_bill_no"])
        if not number.isalnum() or len(number) > 32:
            return "out_bill_no 只能是字母或者数字, 不超过32位"
        if len(str(request["transfer_remark"])) > 32:
            return "transfer_remark 不能超过32个字符"
        required = SCENE_REPORT_TYPES.get(str(request["transfer_scene_id"]), ())
        infos = request.get("transfer_scene_report_infos") or []
        given = {
            info.get("info_type") for info in infos if isinstance(info, dict) and info.get("info_content")
        }
        if any(info_type not in given for info_type in required):
            return "需传入转账场景报备信息"
        notify_url = str(request.get("notify_url") or "")
        if notify_url and (not re.match(r"^https?://[^?#\s]+$", notify_url) or len(notify_url) > 256):
            return "notify_url 必须为公网可访问的 URL, 不能携带参数"
        return None

    def transfer_bill(self, body: bytes, authorization: str | None, path: str = V3_TRANSFER_PATH) -> Answer:
        with self.lock:
            self._close_expired()
            authenticated = self._v3_authenticated("POST", path, body, authorization)
            if isinstance(authenticated, Answer):
                return authenticated
            merchant = authenticated
            try:
                request = json.loads(body)
                number, amount, openid = (
                    str(request["out_bill_no"]),
                    int(request["transfer_amount"]),
                    str(request["openid"]),
                )
            except (ValueError, KeyError, TypeError) as error:
                return self._v3(400, {"code": "PARAM_ERROR", "message": f"参数错误: {error}"})
            if merchant.v3_public_key_pem is not None and (problem := self._v3_request_problem(request)):
                return self._v3(400, {"code": "PARAM_ERROR", "message": problem})
            fault = self._next_fault("transfer", number)
            if fault == "timeout_before":
                return self._v3(
                    500, {"code": "SYSTEM_ERROR", "message": "系统错误"}, self.timeout_delay_seconds
                )
            if fault in ("SYSTEMERROR", "FREQ_LIMIT"):
                return self._v3(
                    500 if fault == "SYSTEMERROR" else 429,
                    {
                        "code": "SYSTEM_ERROR" if fault == "SYSTEMERROR" else "FREQUENCY_LIMITED",
                        "message": "系统繁忙",
                    },
                )
            if fault == "NOTENOUGH":
                return self._v3(403, {"code": "NOT_ENOUGH", "message": "商户余额不足"})
            digest = "|".join(
                str(part)
                for part in (
                    request.get("appid", ""),
                    request.get("transfer_scene_id", ""),
                    openid,
                    amount,
                    request.get("transfer_remark", ""),
                )
            )
            existing = self.transfers.get(("transfer", number))
            if existing is not None and existing.request_digest != digest:
                return self._v3(
                    400, {"code": "INVALID_REQUEST", "message": "out_bill_no 重复, 参数与原请求不一致"}
                )
            if existing is None:
                if merchant.balance_fen < amount:
                    return self._v3(403, {"code": "NOT_ENOUGH", "message": "商户余额不足"})
                merchant.balance_fen -= amount
                now = self._now().isoformat(timespec="seconds")
                existing = Transfer(
                    "transfer",
                    number,
                    merchant.mch_id,
                    openid,
                    amount,
                    request.get("transfer_remark", ""),
                    f"1330{uuid.uuid4().int % 10**24:024d}",
                    now,
                    digest,
                    state="WAIT_USER_CONFIRM",
                    package_info=base64.b64encode(secrets.token_bytes(48)).decode(),
                    notify_url=str(request.get("notify_url") or ""),
                    appid=str(request.get("appid") or ""),
                    updated_at=now,
                    created_ts=self.clock(),
                )
                self.transfers[("transfer", number)] = existing
                if not self.transfers_need_confirmation:
                    self._end(existing, "SUCCESS")
            if fault == "SYSTEMERROR_AFTER":
                return self._v3(500, {"code": "SYSTEM_ERROR", "message": "系统繁忙"})
            answer = {
                "out_bill_no": number,
                "transfer_bill_no": existing.transaction_id,
                "create_time": existing.made_at,
                "state": existing.state,
            }
            if existing.state == "WAIT_USER_CONFIRM":
                answer["package_info"] = existing.package_info
            if existing.fail_reason:
                answer["fail_reason"] = existing.fail_reason
            return self._v3(200, answer, self.timeout_delay_seconds if fault == "timeout" else 0.0)

    def query_transfer_bill(
        self, number: str, authorization: str | None = None, path: str | None = None
    ) -> Answer:
        with self.lock:
            self._close_expired()
            merchant: Merchant | None = None
            if authorization is not None:
                authenticated = self._v3_authenticated(
                    "GET", path or V3_QUERY_PREFIX + number, b"", authorization
                )
                if isinstance(authenticated, Answer):
                    return authenticated
                merchant = authenticated
            fault = self._next_fault("transfer_query", number)
            if fault is not None:
                return self._v3(
                    500,
                    {"code": "SYSTEM_ERROR", "message": "系统繁忙"},
                    self.timeout_delay_seconds if fault.startswith("timeout") else 0.0,
                )
            transfer = self.transfers.get(("transfer", number))
            if transfer is None or (merchant is not None and transfer.mch_id != merchant.mch_id):
                return self._v3(404, {"code": "NOT_FOUND", "message": "记录不存在"})
            return self._v3(200, self._bill_document(transfer))

    def cancel_transfer_bill(self, number: str, authorization: str | None, path: str | None = None) -> Answer:
        """Withdraw a bill its payee has not confirmed: it answers CANCELING and ends CANCELLED."""
        with self.lock:
            self._close_expired()
            authenticated = self._v3_authenticated(
                "POST", path or f"{V3_QUERY_PREFIX}{number}{V3_CANCEL_SUFFIX}", b"", authorization
            )
            if isinstance(authenticated, Answer):
                return authenticated
            fault = self._next_fault("transfer_cancel", number)
            transfer = self.transfers.get(("transfer", number))
            if fault in ("timeout_before", "SYSTEMERROR", "FREQ_LIMIT", "NOTENOUGH"):
                late = self.timeout_delay_seconds if fault == "timeout_before" else 0.0
                return self._v3(500, {"code": "SYSTEM_ERROR", "message": "系统繁忙"}, late)
            if transfer is None or transfer.mch_id != authenticated.mch_id:
                return self._v3(404, {"code": "NOT_FOUND", "message": "记录不存在"})
            if transfer.state in ("SUCCESS", "FAIL"):
                return self._v3(400, {"code": "INVALID_REQUEST", "message": "当前转账单状态不支持撤销"})
            answered_state = "CANCELLED" if transfer.state == "CANCELLED" else "CANCELING"
            if transfer.state == "WAIT_USER_CONFIRM":
                self._end(transfer, "CANCELLED")
            if fault == "SYSTEMERROR_AFTER":
                return self._v3(500, {"code": "SYSTEM_ERROR", "message": "系统繁忙"})
            return self._v3(
                200,
                {
                    "out_bill_no": number,
                    "transfer_bill_no": transfer.transaction_id,
                    "state": answered_state,
                    "update_time": transfer.updated_at,
                },
                self.timeout_delay_seconds if fault == "timeout" else 0.0,
            )

    # --- the payee, and the bills' ends -----------------------------------------------------------

    def payee_acts(
        self, number: str, action: str, detail: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """The payee confirms (with the package the merchant gave them), declines, or the bill
        fails at confirmation. Returns (HTTP status, the bill or an error)."""
        detail = detail or {}
        with self.lock:
            self._close_expired()
            transfer = self.transfers.get(("transfer", number))
            if transfer is None:
                return 404, {"error": f"no transfer bill {number}"}
            if action not in PAYEE_ACTIONS:
                return 400, {"error": f"action must be one of {PAYEE_ACTIONS}"}
            if transfer.state != "WAIT_USER_CONFIRM":
                return 409, {"error": f"the bill is {transfer.state}", "bill": self._bill_document(transfer)}
            if action == "confirm":
                expected = {
                    "package": transfer.package_info,
                    "mch_id": transfer.mch_id,
                    "app_id": transfer.appid,
                }
                wrong = [name for name, value in expected.items() if name in detail and detail[name] != value]
                if "package" not in detail or wrong:
                    return 400, {"error": f"requestMerchantTransfer: wrong {wrong or ['package']}"}
                self._end(transfer, "SUCCESS")
            elif action == "decline":
                self._end(transfer, "CANCELLED")
            else:
                self._end(transfer, "FAIL", str(detail.get("reason") or "PAYEE_ACCOUNT_ABNORMAL"))
            return 200, self._bill_document(transfer)

    def bill(self, number: str) -> dict[str, Any] | None:
        """A bill as the sandbox keeps it (package included), for tests and demos."""
        with self.lock:
            self._close_expired()
            transfer = self.transfers.get(("transfer", number))
            return (
                None
                if transfer is None
                else {**self._bill_document(transfer), "package_info": transfer.package_info}
            )

    def notify_again(self, number: str) -> Notice | None:
        """Send a bill's last notification again (WeChat Pay repeats them), freshly signed."""
        with self.lock:
            last = self.last_notice.get(number)
            if last is None:
                return None
            again = self.signed(last)
        self._send(again)
        return again

    def signed(self, notice: Notice) -> Notice:
        """The same notification signed now, as each of WeChat Pay's deliveries is."""
        return Notice(
            notice.url, notice.out_bill_no, notice.state, notice.body, self._signed_headers(notice.body)
        )

    def _bill_document(self, transfer: Transfer) -> dict[str, Any]:
        """A bill as a query answers it (no package_info)."""
        document: dict[str, Any] = {
            "mch_id": transfer.mch_id,
            "out_bill_no": transfer.number,
            "transfer_bill_no": transfer.transaction_id,
            "appid": transfer.appid,
            "state": transfer.state,
            "transfer_amount": transfer.amount_fen,
            "openid": transfer.openid,
            "transfer_remark": transfer.description,
            "create_time": transfer.made_at,
            "update_time": transfer.updated_at or transfer.made_at,
        }
        if transfer.fail_reason:
            document["fail_reason"] = transfer.fail_reason
        return document

    def _end(self, transfer: Transfer, state: str, reason: str = "") -> None:
        """A bill reaches its final state (under the lock): money moves or goes back, and the
        notification leaves."""
        transfer.state, transfer.fail_reason = state, reason
        transfer.updated_at = self._now().isoformat(timespec="seconds")
        if state == "SUCCESS":
            self.executed.append(transfer)
        else:
            self.merchants[transfer.mch_id].balance_fen += transfer.amount_fen
        notice = self._notice(transfer)
        if notice is None:
            return
        self.last_notice[transfer.number] = notice
        if self.notifier is None:
            self.outbox.append(notice)
        else:
            self.notifier(notice)

    def _close_expired(self) -> None:
        """WeChat Pay closes a bill its payee has not confirmed within 24 hours."""
        limit = self.clock() - self.close_unconfirmed_after_seconds
        for (channel, _), transfer in list(self.transfers.items()):
            if (
                channel == "transfer"
                and transfer.state == "WAIT_USER_CONFIRM"
                and transfer.created_ts <= limit
            ):
                self._end(transfer, "CANCELLED")

    def _notice(self, transfer: Transfer) -> Notice | None:
        merchant = self.merchants[transfer.mch_id]
        if not transfer.notify_url or not merchant.api_v3_key:
            return None
        resource = {
            "mch_id": transfer.mch_id,
            "out_bill_no": transfer.number,
            "transfer_bill_no": transfer.transaction_id,
            "state": transfer.state,
            "transfer_amount": transfer.amount_fen,
            "openid": transfer.openid,
            "create_time": transfer.made_at,
            "update_time": transfer.updated_at,
        }
        if transfer.fail_reason:
            resource["fail_reason"] = transfer.fail_reason
        nonce, associated = secrets.token_hex(6), "mch_payment"
        document = {
            "id": str(uuid.uuid4()),
            "create_time": transfer.updated_at,
            "resource_type": "encrypt-resource",
            "event_type": BILL_FINISHED,
            "summary": "商家转账单据终态通知",
            "resource": {
                "original_type": "mch_payment",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": encrypt(
                    json.dumps(resource, ensure_ascii=False).encode(), merchant.api_v3_key, nonce, associated
                ),
                "associated_data": associated,
                "nonce": nonce,
            },
        }
        body = json.dumps(document, ensure_ascii=False).encode()
        return Notice(transfer.notify_url, transfer.number, transfer.state, body, self._signed_headers(body))

    def _send(self, notice: Notice) -> None:
        if self.notifier is None:
            with self.lock:
                self.outbox.append(notice)
        else:
            self.notifier(notice)

    def deliver_by_http(self, notice: Notice) -> None:
        """POST a notification until answered 2xx, a few times, in a thread of its own."""

        def post() -> None:
            for attempt, delay in enumerate(NOTIFY_RETRY_DELAYS, start=1):
                time.sleep(delay)
                headers = {**notice.headers, "Content-Type": "application/json"}
                request = urllib.request.Request(notice.url, notice.body, headers, method="POST")  # noqa: S310
                try:
                    with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
                        status = int(reply.status)
                except urllib.error.HTTPError as error:
                    status = int(error.code)
                except OSError:
                    status = 0
                with self.lock:
                    self.deliveries.append(
                        {
                            "out_bill_no": notice.out_bill_no,
                            "state": notice.state,
                            "url": notice.url,
                            "status": status,
                            "attempt": attempt,
                        }
                    )
                if 200 <= status < 300:
                    return

        threading.Thread(target=post, name=f"notify-{notice.out_bill_no}", daemon=True).start()

    def in_process_v3(self) -> Callable[..., tuple[int, bytes, dict[str, str]]]:
        """A transport for the v3 client answered by these books in-process (signatures checked
        and made as over HTTP); an answer later than the client waits is a timeout."""

        def call(
            method: str, url: str, body: bytes | None, headers: Any, timeout: float
        ) -> tuple[int, bytes, dict[str, str]]:
            path = url[url.index("/v3/") :]
            authorization = headers.get("Authorization")
            if method == "POST" and path.endswith(V3_CANCEL_SUFFIX):
                number = path[len(V3_QUERY_PREFIX) : -len(V3_CANCEL_SUFFIX)]
                answer = self.cancel_transfer_bill(number, authorization, path)
            elif method == "POST":
                answer = self.transfer_bill(body or b"", authorization, path)
            else:
                answer = self.query_transfer_bill(path.rsplit("/", 1)[1], authorization, path)
            if answer.delay_seconds > timeout:
                raise TimeoutError("timed out")
            return answer.status, answer.body, answer.headers

        return call

    def transfers_made(self) -> list[dict[str, Any]]:
        with self.lock:
            return [asdict(transfer) for transfer in self.executed]


class _Handler(BaseHTTPRequestHandler):
    resets: list[Callable[[], None]]
    sandbox: PaymentsSandbox

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the stack's own log says what happened."""

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, answer: Answer) -> None:
        if answer.delay_seconds:
            time.sleep(answer.delay_seconds)
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting, as a timed-out client does

    def _json(self, status: int, document: Any) -> None:
        self._send(Answer(status, json.dumps(document, ensure_ascii=False).encode(), "application/json"))

    def do_POST(self) -> None:
        body = self._body()
        path = self.path.split("?", 1)[0]
        if path == "/mmpaymkttransfers/promotion/paywwsptrans2pocket":
            self._send(self.sandbox.pay_to_employee(body))
        elif path == "/mmpaymkttransfers/promotion/querywwsptrans2pocket":
            self._send(self.sandbox.query_pay_to_employee(body))
        elif path == "/v3/fund-app/mch-transfer/transfer-bills":
            self._send(self.sandbox.transfer_bill(body, self.headers.get("Authorization"), self.path))
        elif path.startswith(V3_QUERY_PREFIX) and path.endswith(V3_CANCEL_SUFFIX):
            number = path[len(V3_QUERY_PREFIX) : -len(V3_CANCEL_SUFFIX)]
            self._send(
                self.sandbox.cancel_transfer_bill(number, self.headers.get("Authorization"), self.path)
            )
        elif path.startswith(BILL_CONTROL_PREFIX) and path.count("/") == 4:
            number, action = path[len(BILL_CONTROL_PREFIX) :].split("/")
            try:
                detail = json.loads(body) if body.strip() else {}
            except ValueError:
                self._json(400, {"error": "the body must be JSON"})
                return
            if action == "notify":
                again = self.sandbox.notify_again(number)
                self._json(200 if again else 404, {"sent": again is not None})
            else:
                self._json(
                    *self.sandbox.payee_acts(number, action, detail if isinstance(detail, dict) else {})
                )
        elif path == "/sandbox/settings":
            request = json.loads(body or b"{}")
            if "transfers_need_confirmation" in request:
                self.sandbox.transfers_need_confirmation = bool(request["transfers_need_confirmation"])
            self._json(200, {"transfers_need_confirmation": self.sandbox.transfers_need_confirmation})
        elif path == "/sandbox/faults":
            try:
                request = json.loads(body)
                self.sandbox.add_faults(request["operation"], list(request["faults"]))
            except (ValueError, KeyError, TypeError) as error:
                self._json(400, {"error": str(error)})
                return
            self._json(200, {k: list(v) for k, v in self.sandbox.faults.items()})
        elif path == "/sandbox/balance":
            request = json.loads(body)
            self.sandbox.merchants[request["mch_id"]].balance_fen = int(request["balance_fen"])
            self._json(200, {"mch_id": request["mch_id"], "balance_fen": int(request["balance_fen"])})
        elif path == "/sandbox/reset":
            for reset in self.resets:
                reset()
            self._json(200, {"reset": True})
        else:
            self._json(404, {"error": f"no route {path}"})

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path.startswith(V3_QUERY_PREFIX):
            number = path[len(V3_QUERY_PREFIX) :]
            self._send(self.sandbox.query_transfer_bill(number, self.headers.get("Authorization"), self.path))
        elif path.startswith(BILL_CONTROL_PREFIX):
            found = self.sandbox.bill(path[len(BILL_CONTROL_PREFIX) :])
            self._json(200 if found else 404, found or {"error": "no such bill"})
        elif path == "/sandbox/notifications":
            with self.sandbox.lock:
                sent = list(self.sandbox.deliveries)
            self._json(200, {"deliveries": sent})
        elif path == "/sandbox/transfers":
            self._json(
                200,
                {
                    "transfers": self.sandbox.transfers_made(),
                    "calls": self.sandbox.calls,
                    "numbers_seen": self.sandbox.numbers_seen,
                },
            )
        else:
            self._json(404, {"error": f"no route {path}"})


class PaymentsSandboxServer(SandboxServer):
    """The sandbox on a loopback port, in a thread."""

    name = "payments (WeCom pay-to-employee, WeChat Pay transfers)"

    def __init__(
        self, sandbox: PaymentsSandbox, host: str, port: int, *, deliver_notifications: bool = True
    ) -> None:
        if deliver_notifications and sandbox.notifier is None:
            sandbox.notifier = sandbox.deliver_by_http
        super().__init__(sandbox, _Handler, host, port)
