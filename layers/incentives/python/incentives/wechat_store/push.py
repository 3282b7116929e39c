"""The store's message pushes (消息推送, safe mode): verification, decryption and the message inside.

The protocol is WeChat's message encryption, the same as WeCom's (``incentives.wecom.crypto``):

- GET (URL verification): ``signature = sha1(sorted([token, timestamp, nonce]))``; the answer is
  the bare ``echostr``;
- POST: query ``timestamp``, ``nonce``, ``encrypt_type=aes``, ``msg_signature``; the body is
  JSON ``{"ToUserName", "Encrypt"}`` (or the XML envelope, as configured in the store's console);
  ``msg_signature = sha1(sorted([token, timestamp, nonce, Encrypt]))``; AES-256-CBC with the
  EncodingAESKey, the plaintext ending with the store's appid (which must match);
- the decrypted message is JSON (or XML): ``Event`` ``channels_ec_order_*`` with
  ``order_info.order_id``, or ``channels_ec_aftersale_update`` with
  ``finder_shop_aftersale_status_update {order_id, after_sale_order_id, status}``.

Parsing is hardened (defusedxml, bounded JSON), bodies are size-limited, and a timestamp more
than :data:`REPLAY_WINDOW` away from now is refused. A message's identity is the SHA-256 of its
plaintext: the store's retries carry the same plaintext, so they share it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from incentives.core.errors import InvalidInput, PayloadTooLarge, Unauthenticated
from incentives.wecom.crypto import CallbackCrypto

MAX_BODY_BYTES = 64 * 1024
REPLAY_WINDOW = timedelta(minutes=5)
ORDER_EVENTS = frozenset(
    {
        "channels_ec_order_pay",
        "channels_ec_order_deliver",
        "channels_ec_order_confirm",
        "channels_ec_order_settle",
        "channels_ec_order_ext_info_update",
        "channels_ec_order_cancel",
    }
)
AFTER_SALE_EVENT = "channels_ec_aftersale_update"
MAX_NUMBER_CHARS = 40
MAX_DEPTH = 8


@dataclass(frozen=True)
class StoreCredentials:
    appid: str
    token: str
    encoding_aes_key: str

    def crypto(self) -> CallbackCrypto:
        try:
            return CallbackCrypto(self.token, self.encoding_aes_key, self.appid)
        except ValueError:
            raise Unauthenticated(
                "the tenant's EncodingAESKey is malformed", field="encoding_aes_key"
            ) from None


@dataclass(frozen=True)
class StoreMessage:
    """A verified, decrypted push that concerns an order (others are acknowledged and dropped)."""

    event: str
    order_id: str
    after_sale_order_id: str | None
    create_time: int
    identity: str


def _fresh(timestamp: str | None, now: datetime) -> None:
    if not timestamp or not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise Unauthenticated("timestamp is not unix seconds", field="timestamp")
    if abs(now.timestamp() - int(timestamp)) > REPLAY_WINDOW.total_seconds():
        raise Unauthenticated("timestamp is outside the replay window", field="timestamp")


def verify_url(credentials: StoreCredentials, query: dict[str, str], now: datetime) -> str:
    """GET: check ``signature`` over (token, timestamp, nonce); return ``echostr`` to echo."""
    signature, timestamp, nonce, echostr = (
        query.get(k) for k in ("signature", "timestamp", "nonce", "echostr")
    )
    if not (signature and timestamp and nonce and echostr):
        raise Unauthenticated("signature, timestamp, nonce and echostr are required", field="signature")
    _fresh(timestamp, now)
    expected = hashlib.sha1("".join(sorted([credentials.token, timestamp, nonce])).encode()).hexdigest()  # noqa: S324
    if not hmac.compare_digest(expected, signature.lower()):
        raise Unauthenticated("signature does not match", field="signature")
    if len(echostr) > 256:
        raise InvalidInput("echostr is too long", field="echostr")
    return echostr


def _number(text: str) -> int | float:
    if len(text) > MAX_NUMBER_CHARS:
        raise InvalidInput(f"a number is longer than {MAX_NUMBER_CHARS} characters", field="body")
    return float(text) if any(c in text for c in ".eE") else int(text)


def _reject_constant(name: str) -> Any:
    raise InvalidInput(f"{name} is not JSON", field="body")


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(child) for child in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(child) for child in value), default=0)
    return 0


def _xml(raw: bytes, what: str) -> dict[str, Any]:
    """An XML document's elements (nested ones as objects), with no DTD, entity or external reference."""
    try:
        root = ElementTree.fromstring(raw)
    except (ElementTree.ParseError, DefusedXmlException, ValueError, LookupError) as error:
        raise InvalidInput(
            f"the {what} is not acceptable XML: {type(error).__name__}", field="body"
        ) from None

    def read(element: Any) -> Any:
        children = list(element)
        return {child.tag: read(child) for child in children} if children else (element.text or "").strip()

    document = read(root)
    return document if isinstance(document, dict) else {}


def _document(text: bytes | str, what: str) -> dict[str, Any]:
    """A JSON object or an XML document (the console lets the merchant choose), size- and depth-bounded."""
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the {what} is larger than {MAX_BODY_BYTES} bytes", field="body")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"the {what} is not UTF-8 (byte {error.start})", field="body") from None
    if decoded.lstrip().startswith("<"):
        return _xml(raw, what)
    try:
        document = json.loads(
            decoded, parse_int=_number, parse_float=_number, parse_constant=_reject_constant
        )
    except (json.JSONDecodeError, RecursionError) as error:
        raise InvalidInput(f"the {what} is not valid JSON: {type(error).__name__}", field="body") from None
    if not isinstance(document, dict):
        raise InvalidInput(f"the {what} must be a JSON object", field="body")
    if _depth(document) > MAX_DEPTH:
        raise InvalidInput(f"the {what} is nested more than {MAX_DEPTH} levels deep", field="body")
    return document


def _text(value: Any) -> str:
    return str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""


def read_message(plaintext: str) -> StoreMessage | None:
    """The order push inside a decrypted message, or None for events the connector does not follow."""
    message = _document(plaintext, "message")
    event = _text(message.get("Event"))
    if event in ORDER_EVENTS:
        info = message.get("order_info")
        order_id = _text(info.get("order_id")) if isinstance(info, dict) else _text(message.get("order_id"))
        after_sale_id = None
    elif event == AFTER_SALE_EVENT:
        update = message.get("finder_shop_aftersale_status_update")
        update = update if isinstance(update, dict) else {}
        order_id = _text(update.get("order_id"))
        after_sale_id = _text(update.get("after_sale_order_id")) or None
        if after_sale_id is None or not after_sale_id.isascii() or len(after_sale_id) > 64:
            raise InvalidInput(
                "the after-sale push has no usable after_sale_order_id", field="after_sale_order_id"
            )
    else:
        return None
    if (
        not order_id
        or not order_id.isascii()
        or not order_id.replace("_", "").isalnum()
        or len(order_id) > 64
    ):
        raise InvalidInput("the push has no usable order_id", field="order_id")
    create_time = _text(message.get("CreateTime"))
    return StoreMessage(
        event=event,
        order_id=order_id,
        after_sale_order_id=after_sale_id,
        create_time=int(create_time) if create_time.isdigit() and len(create_time) <= 12 else 0,
        identity="wxs-msg-" + hashlib.sha256(plaintext.encode()).hexdigest()[:40],
    )


def open_push(
    credentials: StoreCredentials, query: dict[str, str], body: bytes, now: datetime
) -> StoreMessage | None:
    """POST: verify the envelope's signature and freshness, decrypt, read. Nothing is stored here."""
    envelope = _document(body, "envelope")
    encrypt = _text(envelope.get("Encrypt"))
    if not encrypt:
        raise InvalidInput("the envelope has no Encrypt", field="Encrypt")
    crypto = credentials.crypto()
    crypto.verify(query.get("msg_signature"), query.get("timestamp"), query.get("nonce"), encrypt)
    _fresh(query.get("timestamp"), now)
    return read_message(crypto.decrypt(encrypt))
