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

Faults are queued per operation (``pay``, ``pay_query``, ``transfer``, ``transfer_query``)
and consumed one per call:

- ``timeout``: the transfer is made, but the answer comes after the client gave up;
- ``timeout_before``: the answer is late and nothing was made;
- ``SYSTEMERROR``: nothing made, SYSTEMERROR returned; ``SYSTEMERROR_AFTER``: made, SYSTEMERROR returned;
- ``NOTENOUGH``, ``FREQ_LIMIT``: refused with that code, nothing made.

Control endpoints under ``/sandbox/``: ``POST faults`` ``{"operation", "faults": [...]}``,
``GET transfers``, ``POST balance`` ``{"mch_id", "balance_fen"}``, ``POST reset``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from incentives.payouts.wecom_pay import from_xml, pay_sign, to_xml, workwx_sign

CHINA = ZoneInfo("Asia/Shanghai")
OPERATIONS = ("pay", "pay_query", "transfer", "transfer_query")
FAULTS = ("timeout", "timeout_before", "SYSTEMERROR", "SYSTEMERROR_AFTER", "NOTENOUGH", "FREQ_LIMIT")
V3_SCHEME = "WECHATPAY2-SHA256-RSA2048"
V3_AUTH_FIELDS = ("mchid", "nonce_str", "signature", "timestamp", "serial_no")
V3_AUTH_FIELD = re.compile(r'([a-z_]+)="([^"]*)"')
V3_TRANSFER_PATH = "/v3/fund-app/mch-transfer/transfer-bills"
V3_QUERY_PREFIX = "/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/"
V3_REQUIRED = ("appid", "out_bill_no", "transfer_scene_id", "openid", "transfer_amount", "transfer_remark")
SCENE_REPORT_TYPES = {"1000": ("活动名称", "奖励说明")}
"""Report info types each scene requires (only the scene the provider uses by default)."""
SIGNATURE_MAX_AGE_SECONDS = 300


@dataclass
class Merchant:
    mch_id: str
    api_key: str
    payment_secret: str
    balance_fen: int = 100_000_000
    v3_public_key_pem: str | None = None
    """Public key of the merchant's API certificate: v3 signatures are verified when it is known."""


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


@dataclass
class Answer:
    """What the HTTP layer sends: a body, and how long to wait before sending it."""

    status: int
    body: bytes
    content_type: str = "text/xml; charset=utf-8"
    delay_seconds: float = 0.0


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

    def add_faults(self, operation: str, faults: list[str]) -> None:
        if operation not in OPERATIONS:
            raise ValueError(f"operation must be one of {OPERATIONS}")
        unknown = [fault for fault in faults if fault not in FAULTS]
        if unknown:
            raise ValueError(f"unknown faults {unknown}; known: {FAULTS}")
        with self.lock:
            self.faults[operation].extend(faults)

    def reset(self) -> None:
        with self.lock:
            self.transfers.clear()
            self.executed.clear()
            for queue in self.faults.values():
                queue.clear()
            self.calls = dict.fromkeys(OPERATIONS, 0)
            self.numbers_seen.clear()

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
                    made_at=datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
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

    @staticmethod
    def _v3(status: int, document: dict[str, Any], delay: float = 0.0) -> Answer:
        return Answer(status, json.dumps(document, ensure_ascii=False).encode(), "application/json", delay)

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
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > SIGNATURE_MAX_AGE_SECONDS:
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
        return None

    def transfer_bill(self, body: bytes, authorization: str | None, path: str = V3_TRANSFER_PATH) -> Answer:
        with self.lock:
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
                existing = Transfer(
                    "transfer",
                    number,
                    merchant.mch_id,
                    openid,
                    amount,
                    request.get("transfer_remark", ""),
                    f"1330{uuid.uuid4().int % 10**24:024d}",
                    datetime.now(CHINA).isoformat(timespec="seconds"),
                    digest,
                )
                self.transfers[("transfer", number)] = existing
                self.executed.append(existing)
            if fault == "SYSTEMERROR_AFTER":
                return self._v3(500, {"code": "SYSTEM_ERROR", "message": "系统繁忙"})
            return self._v3(
                200,
                {
                    "out_bill_no": number,
                    "transfer_bill_no": existing.transaction_id,
                    "create_time": existing.made_at,
                    "state": "SUCCESS",
                },
                self.timeout_delay_seconds if fault == "timeout" else 0.0,
            )

    def query_transfer_bill(
        self, number: str, authorization: str | None = None, path: str | None = None
    ) -> Answer:
        with self.lock:
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
            return self._v3(
                200,
                {
                    "mch_id": transfer.mch_id,
                    "out_bill_no": number,
                    "transfer_bill_no": transfer.transaction_id,
                    "state": "SUCCESS",
                    "transfer_amount": transfer.amount_fen,
                    "openid": transfer.openid,
                    "transfer_remark": transfer.description,
                    "create_time": transfer.made_at,
                    "update_time": transfer.made_at,
                },
            )

    def transfers_made(self) -> list[dict[str, Any]]:
        with self.lock:
            return [asdict(transfer) for transfer in self.executed]


class _Handler(BaseHTTPRequestHandler):
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
            self.sandbox.reset()
            self._json(200, {"reset": True})
        else:
            self._json(404, {"error": f"no route {path}"})

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path.startswith(V3_QUERY_PREFIX):
            number = path[len(V3_QUERY_PREFIX) :]
            self._send(self.sandbox.query_transfer_bill(number, self.headers.get("Authorization"), self.path))
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


class PaymentsSandboxServer:
    """The sandbox on a loopback port, in a thread."""

    name = "payments (WeCom pay-to-employee, WeChat Pay transfers)"

    def __init__(self, sandbox: PaymentsSandbox, host: str, port: int) -> None:
        handler = type("Handler", (_Handler,), {"sandbox": sandbox})
        self.sandbox = sandbox
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.base_url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="payments-sandbox", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
