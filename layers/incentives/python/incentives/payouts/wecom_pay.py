"""WeCom pay-to-employee (企业微信 向员工付款), the guides' payout provider.

``POST {base}/mmpaymkttransfers/promotion/paywwsptrans2pocket`` and
``POST {base}/mmpaymkttransfers/promotion/querywwsptrans2pocket`` — XML over HTTPS with the
merchant's API certificate (mutual TLS). Two signatures:

- ``sign``: MD5 of every non-empty parameter except ``sign``, sorted by name, joined as
  ``k=v&…``, then ``&key=<merchant API key>``; upper-case hex.
- ``workwx_sign``: the same over ``amount, appid, desc, mch_id, nonce_str, openid,
  partner_trade_no, ww_msg_type`` with ``&secret=<the paying app's secret>``.

``partner_trade_no`` is the payout id. The nonce is derived from it, so a retry sends the
very same parameters, as WeChat Pay asks for SYSTEMERROR ("use the original number and the
original parameters").
"""

from __future__ import annotations

import hashlib
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from defusedxml import ElementTree

from incentives.payouts.model import Payout
from incentives.payouts.provider import Outcome, ProviderResult

PRODUCTION_BASE_URL = "https://api.mch.weixin.qq.com"
PAY_PATH = "/mmpaymkttransfers/promotion/paywwsptrans2pocket"
QUERY_PATH = "/mmpaymkttransfers/promotion/querywwsptrans2pocket"
WORKWX_SIGNED_FIELDS = (
    "amount",
    "appid",
    "desc",
    "mch_id",
    "nonce_str",
    "openid",
    "partner_trade_no",
    "ww_msg_type",
)
CHINA = ZoneInfo("Asia/Shanghai")

AMBIGUOUS_CODES = frozenset({"SYSTEMERROR", "FREQ_LIMIT", "SEND_FAILED", "NOT_ENOUGH_RETRY"})
"""Error codes after which the transfer may or may not exist: query, then retry the same number."""


def md5_sign(params: dict[str, Any], suffix: str) -> str:
    text = "&".join(
        f"{key}={params[key]}" for key in sorted(params) if key != "sign" and params[key] not in ("", None)
    )
    return hashlib.md5(f"{text}&{suffix}".encode()).hexdigest().upper()  # noqa: S324 - the protocol's algorithm


def pay_sign(params: dict[str, Any], api_key: str) -> str:
    return md5_sign(params, f"key={api_key}")


def workwx_sign(params: dict[str, Any], payment_secret: str) -> str:
    return md5_sign({key: params[key] for key in WORKWX_SIGNED_FIELDS}, f"secret={payment_secret}")


def to_xml(params: dict[str, Any]) -> bytes:
    inner = "".join(f"<{key}>{escape(str(value))}</{key}>" for key, value in params.items())
    return f"<xml>{inner}</xml>".encode()


def from_xml(body: bytes) -> dict[str, str]:
    root = ElementTree.fromstring(body)
    return {child.tag: (child.text or "") for child in root}


Transport = Callable[[str, bytes, float], bytes]
"""POST ``body`` to ``url`` within ``timeout`` seconds and return the answer's body; raise
``TimeoutError`` / ``OSError`` / ``urllib.error.HTTPError`` as urllib does."""


@dataclass(frozen=True)
class WeComPayConfig:
    corp_id: str
    mch_id: str
    api_key: str
    payment_secret: str
    agent_id: str
    base_url: str = PRODUCTION_BASE_URL
    cert_file: str | None = None
    key_file: str | None = None
    timeout_seconds: float = 5.0
    client_ip: str = "127.0.0.1"
    act_name: str = "导购激励"


class HttpsTransport:
    """urllib with the merchant's API certificate (mutual TLS), as WeChat Pay requires."""

    def __init__(self, config: WeComPayConfig) -> None:
        self._context: ssl.SSLContext | None = None
        if config.base_url.startswith("https://"):
            self._context = ssl.create_default_context()
            if config.cert_file:
                self._context.load_cert_chain(config.cert_file, config.key_file)

    def __call__(self, url: str, body: bytes, timeout: float) -> bytes:
        request = urllib.request.Request(  # noqa: S310 - the base URL is configuration, https in production
            url, data=body, method="POST", headers={"Content-Type": "text/xml; charset=utf-8"}
        )
        with urllib.request.urlopen(request, timeout=timeout, context=self._context) as reply:  # noqa: S310
            answer: bytes = reply.read()
            return answer


class WeComPayToEmployee:
    """The provider; every network or protocol surprise is reported as AMBIGUOUS, never guessed."""

    def __init__(self, config: WeComPayConfig, transport: Transport | None = None) -> None:
        self._config = config
        self._transport = transport or HttpsTransport(config)

    def _nonce(self, payout_id: str) -> str:
        return hashlib.sha256(f"nonce|{payout_id}".encode()).hexdigest()[:32].upper()

    def transfer_params(self, payout: Payout) -> dict[str, Any]:
        """The request, signed; identical for every attempt of the same payout."""
        config = self._config
        params: dict[str, Any] = {
            "appid": config.corp_id,
            "mch_id": config.mch_id,
            "nonce_str": self._nonce(payout.payout_id),
            "partner_trade_no": payout.payout_id,
            "openid": payout.payee.openid,
            "check_name": "NO_CHECK",
            "amount": payout.amount_fen,
            "desc": payout.description,
            "spbill_create_ip": config.client_ip,
            "ww_msg_type": "NORMAL_MSG",
            "act_name": config.act_name,
            "agentid": config.agent_id,
        }
        params["workwx_sign"] = workwx_sign(params, config.payment_secret)
        params["sign"] = pay_sign(params, config.api_key)
        return params

    def query_params(self, payout: Payout) -> dict[str, Any]:
        params: dict[str, Any] = {
            "appid": self._config.corp_id,
            "mch_id": self._config.mch_id,
            "partner_trade_no": payout.payout_id,
            "nonce_str": self._nonce(payout.payout_id),
        }
        params["sign"] = pay_sign(params, self._config.api_key)
        return params

    def _post(self, path: str, params: dict[str, Any]) -> dict[str, str] | ProviderResult:
        try:
            body = self._transport(self._config.base_url + path, to_xml(params), self._config.timeout_seconds)
        except TimeoutError:
            return ProviderResult(Outcome.AMBIGUOUS, "TIMEOUT", "no answer in time")
        except urllib.error.HTTPError as error:
            return ProviderResult(Outcome.AMBIGUOUS, f"HTTP_{error.code}", str(error.reason))
        except (urllib.error.URLError, ConnectionError, OSError) as error:
            return ProviderResult(Outcome.AMBIGUOUS, "NETWORK", str(error))
        try:
            return from_xml(body)
        except Exception as error:
            return ProviderResult(Outcome.AMBIGUOUS, "UNREADABLE", type(error).__name__)

    def transfer(self, payout: Payout) -> ProviderResult:
        answer = self._post(PAY_PATH, self.transfer_params(payout))
        if isinstance(answer, ProviderResult):
            return answer
        if answer.get("return_code") != "SUCCESS":
            return ProviderResult(Outcome.AMBIGUOUS, "RETURN_FAIL", answer.get("return_msg", ""))
        if answer.get("result_code") == "SUCCESS":
            return ProviderResult(
                Outcome.SUCCESS,
                transaction_id=answer.get("payment_no"),
                paid_at=_china_time(answer.get("payment_time")),
            )
        code = answer.get("err_code", "")
        reason = answer.get("err_code_des", "")
        if code in AMBIGUOUS_CODES or not code:
            return ProviderResult(Outcome.AMBIGUOUS, code or "UNKNOWN", reason)
        return ProviderResult(Outcome.FAILED, code, reason)

    def query(self, payout: Payout) -> ProviderResult:
        answer = self._post(QUERY_PATH, self.query_params(payout))
        if isinstance(answer, ProviderResult):
            return answer
        if answer.get("return_code") != "SUCCESS":
            return ProviderResult(Outcome.AMBIGUOUS, "RETURN_FAIL", answer.get("return_msg", ""))
        if answer.get("result_code") != "SUCCESS":
            code = answer.get("err_code", "")
            if code == "NOT_FOUND":
                return ProviderResult(Outcome.NOT_FOUND, code, answer.get("err_code_des", ""))
            return ProviderResult(Outcome.AMBIGUOUS, code or "UNKNOWN", answer.get("err_code_des", ""))
        status = answer.get("status", "")
        if status == "SUCCESS":
            return ProviderResult(
                Outcome.SUCCESS,
                transaction_id=answer.get("detail_id"),
                paid_at=_china_time(answer.get("transfer_time")),
            )
        if status == "FAILED":
            return ProviderResult(Outcome.FAILED, "FAILED", answer.get("reason", ""))
        if status == "PROCESSING":
            return ProviderResult(Outcome.PROCESSING, status)
        return ProviderResult(Outcome.AMBIGUOUS, status or "UNKNOWN", "unexpected query status")


def _china_time(text: str | None) -> datetime | None:
    """WeChat Pay v2 times are ``yyyy-MM-dd HH:mm:ss`` in China time."""
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
    except ValueError:
        return None
