"""WeChat Pay transfer to a user's wallet (商家转账, v3), the affiliates' payout provider.

``POST {base}/v3/fund-app/mch-transfer/transfer-bills`` creates a transfer bill and
``GET {base}/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}`` reads it back —
JSON over HTTPS, each request signed with the merchant's API private key:

    Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…"

where ``signature`` is base64(RSA-SHA256 PKCS#1 v1.5 over
``METHOD\\nPATH_WITH_QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n``) (a GET signs an empty body) and
``serial_no`` is the serial number of the merchant's API certificate.

``out_bill_no`` is the payout id and the body is built only from the payout and the
configuration, so every attempt of a payout sends the very same body: WeChat Pay asks for the
original number with the original parameters after any non-200 answer.

``POST …/transfer-bills/out-bill-no/{out_bill_no}/cancel`` withdraws a bill the payee has not
confirmed yet (the answer says ``CANCELING``; the bill ends ``CANCELLED``).

Bill states and what they become:

- ``SUCCESS`` → SUCCESS (``transfer_bill_no`` is the transaction id);
- ``WAIT_USER_CONFIRM`` → WAITING: under the current product the payee must confirm receipt in
  WeChat (the merchant's mini program calls ``wx.requestMerchantTransfer`` with ``mchId``,
  ``appId`` and the bill's ``package_info``); no money moves until then. A transfer answer
  carries ``package_info``, a query does not (sending the same number and body again returns it);
- ``CANCELLED`` → CANCELLED (declined, not confirmed in time, or cancelled: nothing moved);
- ``FAIL`` → FAILED (``fail_reason`` is the code);
- ``ACCEPTED`` / ``PROCESSING`` / ``TRANSFERING`` / ``CANCELING`` → PROCESSING from a query; from a
  transfer they are AMBIGUOUS, so the pipeline queries and waits.

Answers are signed by WeChat Pay (``Wechatpay-Timestamp``, ``Wechatpay-Nonce``,
``Wechatpay-Signature`` over ``TIMESTAMP\\nNONCE\\nBODY\\n``, ``Wechatpay-Serial`` naming the key).
When the tenant configured the WeChat Pay public key (``wechatpay_public_key_pem`` and its id
``PUB_KEY_ID_…``), every answer must verify with it, within five minutes of its timestamp; one
that does not is AMBIGUOUS (``UNVERIFIED``): never acted upon, resolved by a later verified
query. Without the key the answers are trusted as they come over TLS from the configured host.

Not supported: transfers of 2,000 yuan or more, which need the payee's real name encrypted with
the platform key (WeChat Pay refuses them; the refusal is reported as FAILED).
"""

from __future__ import annotations

import http.client
import json
import secrets
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from incentives.payouts.model import Confirmation, Payout
from incentives.payouts.provider import Outcome, ProviderResult
from incentives.payouts.wechat_pay import (
    AUTH_SCHEME,
    CANCELLED_STATE,
    FAILED_STATE,
    PENDING_STATES,
    SUCCESS_STATE,
    WAITING_STATE,
    load_private_key,
    load_public_key,
    sign,
    signature_problem,
    signing_message,
)

PRODUCTION_BASE_URL = "https://api.mch.weixin.qq.com"
TRANSFER_PATH = "/v3/fund-app/mch-transfer/transfer-bills"
QUERY_PATH = "/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}"
CANCEL_PATH = QUERY_PATH + "/cancel"
REMARK_LIMIT = 32
"""``transfer_remark``: at most 32 characters."""
REPORT_TYPE_LIMIT = 15
REPORT_CONTENT_LIMIT = 32
DESCRIPTION_PLACEHOLDER = "{description}"

SCENE_1000_REPORT_INFOS: tuple[tuple[str, str], ...] = (
    ("活动名称", "推广奖励"),
    ("奖励说明", DESCRIPTION_PLACEHOLDER),
)
"""What scene 1000 (现金营销) must report; ``{description}`` becomes the payout's description."""

REFUSAL_CODES = frozenset(
    {
        "PARAM_ERROR",
        "INVALID_REQUEST",
        "NO_AUTH",
        "NOT_ENOUGH",
        "SIGN_ERROR",
        "OPENID_INVALID",
        "ACCOUNT_FROZEN",
        "ACCOUNT_NOT_EXIST",
        "REAL_NAME_CHECK_FAIL",
    }
)
"""Error codes of a 4xx answer to a transfer that mean it was refused and nothing was made.
Any other code (SYSTEM_ERROR, FREQUENCY_LIMITED, an unknown one) leaves the bill's fate open."""


Transport = Callable[[str, str, bytes | None, Mapping[str, str], float], tuple[int, bytes, Mapping[str, str]]]
"""``(method, url, body, headers, timeout)`` → ``(HTTP status, answer body, answer headers)`` for
any status; raise ``TimeoutError`` / ``OSError`` (``urllib.error.URLError``) when no answer came."""


@dataclass(frozen=True)
class WeChatTransferConfig:
    mch_id: str
    appid: str
    """The app (official account / mini program) under which the payees' openids were issued."""
    serial_no: str
    """Serial number of the merchant's API certificate, named in every Authorization header."""
    private_key_pem: str
    """The merchant's API private key (``apiclient_key.pem``), PEM text."""
    base_url: str = PRODUCTION_BASE_URL
    timeout_seconds: float = 5.0
    transfer_scene_id: str = "1000"
    scene_report_infos: tuple[tuple[str, str], ...] = SCENE_1000_REPORT_INFOS
    """(info_type, info_content) pairs the scene requires; ``{description}`` is substituted."""
    user_recv_perception: str = ""
    """What the payee is shown as the reason (scene 1000: 活动奖励 or 现金奖励); empty: the default."""
    notify_url: str = ""
    """Where WeChat Pay posts the bill's result; empty: none (the pipeline queries instead)."""
    wechatpay_public_key_pem: str = ""
    """The WeChat Pay public key (PEM) that signs answers and notifications; empty: not verified."""
    wechatpay_public_key_id: str = ""
    """Its id (``PUB_KEY_ID_…``), named by ``Wechatpay-Serial`` on what it signed."""
    api_v3_key: str = ""
    """The merchant's APIv3 key (32 bytes): the AES-256-GCM key of notifications' resources."""


def authorization(
    config: WeChatTransferConfig,
    private_key: rsa.RSAPrivateKey,
    method: str,
    path: str,
    body: bytes,
    timestamp: str,
    nonce: str,
) -> str:
    """The ``Authorization`` header value of one request."""
    signature = sign(private_key, signing_message(method, path, timestamp, nonce, body))
    return (
        f'{AUTH_SCHEME} mchid="{config.mch_id}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{config.serial_no}"'
    )


def _clip(text: str, limit: int) -> str:
    return text[:limit]


def _rfc3339(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


class HttpsTransport:
    """urllib over TLS; any HTTP status is returned with its body, since v3 errors are JSON."""

    def __init__(self, config: WeChatTransferConfig) -> None:
        self._context = ssl.create_default_context() if config.base_url.startswith("https://") else None

    def __call__(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str], timeout: float
    ) -> tuple[int, bytes, Mapping[str, str]]:
        request = urllib.request.Request(  # noqa: S310 - the base URL is configuration, https in production
            url, data=body, method=method, headers=dict(headers)
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self._context) as reply:  # noqa: S310
                answer: bytes = reply.read()
                return int(reply.status), answer, dict(reply.headers.items())
        except urllib.error.HTTPError as error:
            with error:
                return int(error.code), error.read(), dict(error.headers.items())


class WeChatTransfer:
    """The provider; every network or protocol surprise is reported as AMBIGUOUS, never guessed."""

    def __init__(
        self,
        config: WeChatTransferConfig,
        transport: Transport | None = None,
        *,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = lambda: secrets.token_hex(16).upper(),
    ) -> None:
        self._config = config
        self._key = load_private_key(config.private_key_pem)
        self._wechatpay_key = (
            load_public_key(config.wechatpay_public_key_pem) if config.wechatpay_public_key_pem else None
        )
        self._transport = transport or HttpsTransport(config)
        self._clock = clock
        self._nonce = nonce

    def transfer_document(self, payout: Payout) -> dict[str, Any]:
        """The transfer request; identical for every attempt of the same payout."""
        config = self._config
        description = payout.description.strip() or "奖励"
        document: dict[str, Any] = {
            "appid": config.appid,
            "out_bill_no": payout.payout_id,
            "transfer_scene_id": config.transfer_scene_id,
            "openid": payout.payee.openid,
            "transfer_amount": payout.amount_fen,
            "transfer_remark": _clip(description, REMARK_LIMIT),
            "transfer_scene_report_infos": [
                {
                    "info_type": _clip(info_type, REPORT_TYPE_LIMIT),
                    "info_content": _clip(
                        content.replace(DESCRIPTION_PLACEHOLDER, description), REPORT_CONTENT_LIMIT
                    ),
                }
                for info_type, content in config.scene_report_infos
            ],
        }
        if config.user_recv_perception:
            document["user_recv_perception"] = config.user_recv_perception
        if config.notify_url:
            document["notify_url"] = config.notify_url
        return document

    def transfer_body(self, payout: Payout) -> bytes:
        """The exact bytes sent (and signed) for a payout's transfer."""
        return json.dumps(self.transfer_document(payout), ensure_ascii=False, separators=(",", ":")).encode()

    def headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        """Headers of one request, signed now with a fresh nonce."""
        timestamp, nonce = str(int(self._clock())), self._nonce()
        headers = {
            "Authorization": authorization(self._config, self._key, method, path, body, timestamp, nonce),
            "Accept": "application/json",
            "User-Agent": "incentives-wechatpay-v3",
        }
        if body:
            headers["Content-Type"] = "application/json"
        return headers

    def _call(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]] | ProviderResult:
        url = self._config.base_url.rstrip("/") + path
        try:
            status, raw, answer_headers = self._transport(
                method, url, body or None, self.headers(method, path, body), self._config.timeout_seconds
            )
        except TimeoutError:
            return ProviderResult(Outcome.AMBIGUOUS, "TIMEOUT", "no answer in time")
        except urllib.error.HTTPError as error:  # a transport that raises for statuses, as urllib does
            return ProviderResult(Outcome.AMBIGUOUS, f"HTTP_{error.code}", str(error.reason))
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                return ProviderResult(Outcome.AMBIGUOUS, "TIMEOUT", "no answer in time")
            return ProviderResult(Outcome.AMBIGUOUS, "NETWORK", str(error.reason))
        except (OSError, http.client.HTTPException) as error:
            return ProviderResult(Outcome.AMBIGUOUS, "NETWORK", str(error) or type(error).__name__)
        if self._wechatpay_key is not None:
            problem = signature_problem(
                self._wechatpay_key, self._config.wechatpay_public_key_id, answer_headers, raw, self._clock()
            )
            if problem is not None:
                return ProviderResult(Outcome.AMBIGUOUS, "UNVERIFIED", f"HTTP {status}: {problem}")
        try:
            document = json.loads(raw) if raw.strip() else {}
        except ValueError as error:
            return ProviderResult(Outcome.AMBIGUOUS, "UNREADABLE", f"HTTP {status}: {type(error).__name__}")
        if not isinstance(document, dict):
            return ProviderResult(Outcome.AMBIGUOUS, "UNREADABLE", f"HTTP {status}: not a JSON object")
        return status, document

    def _bill(self, payout: Payout, document: dict[str, Any], pending: Outcome) -> ProviderResult:
        """What a 200 answer describing the bill means."""
        if document.get("out_bill_no") != payout.payout_id:
            return ProviderResult(Outcome.AMBIGUOUS, "MISMATCH", "the answer is about another out_bill_no")
        state = str(document.get("state") or "")
        bill_no = document.get("transfer_bill_no")
        has_bill_no = isinstance(bill_no, str) and bool(bill_no)
        if state == SUCCESS_STATE:
            if not has_bill_no:
                return ProviderResult(Outcome.AMBIGUOUS, "UNREADABLE", "SUCCESS without transfer_bill_no")
            paid_at = _rfc3339(document.get("update_time")) or _rfc3339(document.get("create_time"))
            return ProviderResult(Outcome.SUCCESS, transaction_id=str(bill_no), paid_at=paid_at)
        if state == WAITING_STATE:
            if not has_bill_no:
                return ProviderResult(Outcome.AMBIGUOUS, "UNREADABLE", f"{state} without transfer_bill_no")
            package = document.get("package_info")
            confirmation = (
                Confirmation(self._config.mch_id, self._config.appid, package)
                if isinstance(package, str) and package
                else None
            )
            return ProviderResult(
                Outcome.WAITING, state, "waits for the payee", str(bill_no), confirmation=confirmation
            )
        if state == CANCELLED_STATE:
            reason = str(document.get("fail_reason") or "")
            return ProviderResult(Outcome.CANCELLED, state, reason or "the bill was closed unpaid")
        if state == FAILED_STATE:
            reason = str(document.get("fail_reason") or "")
            return ProviderResult(Outcome.FAILED, reason or state, reason or f"the bill ended {state}")
        if state in PENDING_STATES:
            return ProviderResult(pending, state, "the bill is not final yet")
        return ProviderResult(Outcome.AMBIGUOUS, state or "UNKNOWN", "unexpected bill state")

    def transfer(self, payout: Payout) -> ProviderResult:
        """Create the payout's transfer bill (or find the one this number already made)."""
        answer = self._call("POST", TRANSFER_PATH, self.transfer_body(payout))
        if isinstance(answer, ProviderResult):
            return answer
        status, document = answer
        if status == 200:
            return self._bill(payout, document, pending=Outcome.AMBIGUOUS)
        code, message = str(document.get("code") or ""), str(document.get("message") or "")
        if 400 <= status < 500 and status != 429 and code in REFUSAL_CODES:
            return ProviderResult(Outcome.FAILED, code, message)
        return ProviderResult(Outcome.AMBIGUOUS, code or f"HTTP_{status}", message or f"HTTP {status}")

    def query(self, payout: Payout) -> ProviderResult:
        """Read the bill numbered by the payout id; only its state can make the payout FAILED."""
        path = QUERY_PATH.format(out_bill_no=urllib.parse.quote(payout.payout_id, safe=""))
        answer = self._call("GET", path, b"")
        if isinstance(answer, ProviderResult):
            return answer
        status, document = answer
        if status == 200:
            return self._bill(payout, document, pending=Outcome.PROCESSING)
        code, message = str(document.get("code") or ""), str(document.get("message") or "")
        if status == 404 and code == "NOT_FOUND":
            return ProviderResult(Outcome.NOT_FOUND, code, message)
        return ProviderResult(Outcome.AMBIGUOUS, code or f"HTTP_{status}", message or f"HTTP {status}")

    def cancel(self, payout: Payout) -> ProviderResult:
        """Withdraw the payout's bill before the payee confirms it. The answer is not final: the
        bill ends ``CANCELLED`` (or ``SUCCESS``, had the payee confirmed first), which a query or
        the notification tells."""
        path = CANCEL_PATH.format(out_bill_no=urllib.parse.quote(payout.payout_id, safe=""))
        answer = self._call("POST", path, b"")
        if isinstance(answer, ProviderResult):
            return answer
        status, document = answer
        if status == 200:
            return self._bill(payout, document, pending=Outcome.PROCESSING)
        code, message = str(document.get("code") or ""), str(document.get("message") or "")
        return ProviderResult(Outcome.AMBIGUOUS, code or f"HTTP_{status}", message or f"HTTP {status}")
