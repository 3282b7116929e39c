"""WeCom callbacks (SPEC §3.1): the envelope, its verification, and the events inside.

POST bodies are ``<xml><ToUserName/><Encrypt/><AgentID/></xml>``; the decrypted message is
XML too. Both are parsed with defusedxml (no entities, no DTDs) and size-limited. A message's
identity is the SHA-256 of its plaintext: WeCom's three retries carry the same plaintext under
fresh encryption, so they share it and are applied once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException
from pydantic import ValidationError

from incentives.core.errors import InvalidInput, PayloadTooLarge
from incentives.core.validation import invalid_input
from incentives.messages.internal import WeComCallbackData
from incentives.wecom.crypto import CallbackCrypto

MAX_BODY_BYTES = 64 * 1024

HANDLED_EVENTS = frozenset({"change_external_contact", "change_contact", "change_external_tag"})


def parse_xml(body: bytes | str, what: str) -> dict[str, str]:
    """Top-level fields of a UTF-8 XML document, hardened against entity tricks.

    WeCom sends UTF-8; any other encoding, declared or not (an unknown one included), is a
    400 naming the problem, as is malformed XML, a DTD or an entity.
    """
    raw = body.encode() if isinstance(body, str) else body
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the {what} is larger than {MAX_BODY_BYTES} bytes", field="body")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"the {what} is not UTF-8 (byte {error.start})", field="body") from None
    try:
        root = ElementTree.fromstring(raw)
    except LookupError as error:  # the declaration names an encoding Python does not know
        raise InvalidInput(f"the {what} declares an unknown encoding: {error}", field="body") from None
    except (ElementTree.ParseError, DefusedXmlException, ValueError) as error:
        raise InvalidInput(
            f"the {what} is not acceptable XML: {type(error).__name__}: {error}", field="body"
        ) from None
    return {child.tag: (child.text or "").strip() for child in root}


def is_handled(callback: WeComCallbackData) -> bool:
    return callback.msg_type == "event" and callback.event in HANDLED_EVENTS


def read_callback(message: str, corp_id: str) -> WeComCallbackData:
    fields = parse_xml(message, "message")
    create_time = fields.get("CreateTime") or "0"
    if not (create_time.isascii() and create_time.isdigit() and len(create_time) <= 12):
        raise InvalidInput("CreateTime is not unix seconds", field="CreateTime")
    document = {
        "corp_id": corp_id,
        "msg_type": fields.get("MsgType", ""),
        "event": fields.get("Event", ""),
        "change_type": fields.get("ChangeType", ""),
        "create_time": int(create_time),
        "user_id": fields.get("UserID", ""),
        "external_user_id": fields.get("ExternalUserID", ""),
        "state": fields.get("State", ""),
        "welcome_code": fields.get("WelcomeCode", ""),
        "fail_reason": fields.get("FailReason", ""),
        "party_id": fields.get("Id", ""),
        "fields": fields,
    }
    try:
        return WeComCallbackData.model_validate(document)
    except ValidationError as error:
        raise invalid_input(error.errors(), document) from None


def message_identity(message: str) -> str:
    return "wecom-" + hashlib.sha256(message.encode()).hexdigest()[:40]


def open_envelope(
    body: bytes, query: dict[str, Any], crypto_for: Callable[[str], CallbackCrypto]
) -> tuple[WeComCallbackData, str]:
    """Verify and decrypt a POSTed callback; return the event and its identity. Nothing is stored."""
    envelope = parse_xml(body, "envelope")
    corp_id = envelope.get("ToUserName", "")
    encrypt = envelope.get("Encrypt", "")
    if not corp_id or not encrypt:
        raise InvalidInput(
            "the envelope needs ToUserName and Encrypt", field="Encrypt" if corp_id else "ToUserName"
        )
    crypto = crypto_for(corp_id)
    crypto.verify(query.get("msg_signature"), query.get("timestamp"), query.get("nonce"), encrypt)
    message = crypto.decrypt(encrypt)
    return read_callback(message, corp_id), message_identity(message)
