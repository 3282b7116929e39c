"""WeChat Pay's result notification of a transfer bill (``MCHTRANSFER.BILL.FINISHED``), opened.

WeChat Pay POSTs to the bill's ``notify_url``::

    Wechatpay-Timestamp / Wechatpay-Nonce / Wechatpay-Signature / Wechatpay-Serial headers
    {"id", "create_time", "resource_type": "encrypt-resource", "event_type": "MCHTRANSFER.BILL.FINISHED",
     "summary", "resource": {"original_type": "mch_payment", "algorithm": "AEAD_AES_256_GCM",
                             "ciphertext", "nonce", "associated_data"}}

The signature covers ``TIMESTAMP\\nNONCE\\nBODY\\n`` and is checked with the WeChat Pay public key
(and a five-minute window) before anything else; the resource decrypts with AES-256-GCM under the
merchant's APIv3 key to the bill: ``{mch_id, out_bill_no, transfer_bill_no, state, transfer_amount,
openid, fail_reason, create_time, update_time}``. A forged or tampered notification is refused
(``Unauthenticated``), one that does not decrypt or parse is ``InvalidInput``; either way nothing
changes and WeChat Pay, if it really sent it, sends it again. The same notification may come
several times: applying it is idempotent (``payouts.pipeline.apply_transfer_notice``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, Field, ValidationError

from incentives.core.errors import InvalidInput, PayloadTooLarge, Unauthenticated
from incentives.payouts.provider import Outcome, ProviderResult
from incentives.payouts.wechat_pay import (
    CANCELLED_STATE,
    FAILED_STATE,
    SIGNATURE_WINDOW_SECONDS,
    SUCCESS_STATE,
    load_public_key,
    signature_problem,
)

BILL_FINISHED = "MCHTRANSFER.BILL.FINISHED"
MAX_BODY_BYTES = 64 * 1024
API_V3_KEY_BYTES = 32


@dataclass(frozen=True)
class NotifyKeys:
    """What a tenant needs to trust and read WeChat Pay's notifications."""

    mch_id: str
    wechatpay_public_key_pem: str
    wechatpay_public_key_id: str
    api_v3_key: str

    @cached_property
    def public_key(self) -> rsa.RSAPublicKey:
        return load_public_key(self.wechatpay_public_key_pem)


class EncryptedResource(BaseModel):
    algorithm: str = Field(max_length=32)
    ciphertext: str = Field(min_length=1, max_length=MAX_BODY_BYTES)
    nonce: str = Field(min_length=1, max_length=64)
    associated_data: str = Field(default="", max_length=256)
    original_type: str = Field(default="", max_length=64)


class Notification(BaseModel):
    id: str = Field(max_length=64)
    create_time: str = Field(default="", max_length=40)
    resource_type: str = Field(max_length=32)
    event_type: str = Field(max_length=64)
    summary: str = Field(default="", max_length=256)
    resource: EncryptedResource


class BillNotice(BaseModel):
    """The decrypted resource: the transfer bill as it ended."""

    mch_id: str = Field(max_length=32)
    out_bill_no: str = Field(min_length=1, max_length=32)
    transfer_bill_no: str = Field(min_length=1, max_length=64)
    state: str = Field(max_length=32)
    transfer_amount: int = Field(ge=1)
    openid: str = Field(min_length=1, max_length=128)
    fail_reason: str = Field(default="", max_length=128)
    create_time: datetime | None = None
    update_time: datetime | None = None

    def result(self) -> ProviderResult:
        """What the bill's final state means for its payout, as a provider's answer would say it."""
        if self.state == SUCCESS_STATE:
            return ProviderResult(
                Outcome.SUCCESS, transaction_id=self.transfer_bill_no, paid_at=self.update_time
            )
        if self.state == CANCELLED_STATE:
            return ProviderResult(
                Outcome.CANCELLED,
                CANCELLED_STATE,
                self.fail_reason or "the payee did not confirm the transfer; it was closed unpaid",
                self.transfer_bill_no,
            )
        if self.state == FAILED_STATE:
            reason = self.fail_reason or FAILED_STATE
            return ProviderResult(
                Outcome.FAILED, reason, f"the transfer failed: {reason}", self.transfer_bill_no
            )
        return ProviderResult(Outcome.PROCESSING, self.state, "not a final state", self.transfer_bill_no)


def decrypt(resource: EncryptedResource, api_v3_key: str) -> bytes:
    """AES-256-GCM (``AEAD_AES_256_GCM``) under the APIv3 key; InvalidInput when it does not open."""
    if resource.algorithm != "AEAD_AES_256_GCM":
        raise InvalidInput(f"unsupported algorithm {resource.algorithm}", field="resource.algorithm")
    key = api_v3_key.encode()
    if len(key) != API_V3_KEY_BYTES:
        raise InvalidInput("the tenant's APIv3 key is not 32 bytes", field="api_v3_key")
    try:
        return AESGCM(key).decrypt(
            resource.nonce.encode(),
            base64.b64decode(resource.ciphertext, validate=True),
            resource.associated_data.encode(),
        )
    except (InvalidTag, binascii.Error, ValueError):
        raise InvalidInput("the resource does not decrypt with the APIv3 key", field="resource") from None


def encrypt(plaintext: bytes, api_v3_key: str, nonce: str, associated_data: str) -> str:
    """The inverse of :func:`decrypt`, base64 (what WeChat Pay does; the sandbox uses it)."""
    sealed = AESGCM(api_v3_key.encode()).encrypt(nonce.encode(), plaintext, associated_data.encode())
    return base64.b64encode(sealed).decode()


def open_notice(
    headers: Mapping[str, str],
    body: bytes,
    keys: NotifyKeys,
    now: float,
    window_seconds: int = SIGNATURE_WINDOW_SECONDS,
) -> BillNotice | None:
    """Verify, decrypt and read a notification; None for a genuine event of another type.

    Raises ``Unauthenticated`` (bad or stale signature), ``PayloadTooLarge``, or ``InvalidInput``
    (not a notification, does not decrypt, not a bill of this merchant).
    """
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"a notification is at most {MAX_BODY_BYTES} bytes", field="body")
    problem = signature_problem(
        keys.public_key, keys.wechatpay_public_key_id, headers, body, now, window_seconds
    )
    if problem is not None:
        raise Unauthenticated(problem, field="Wechatpay-Signature")
    try:
        notification = Notification.model_validate_json(body)
    except ValidationError as error:
        raise InvalidInput(f"not a WeChat Pay notification: {_first(error)}", field="body") from None
    if notification.event_type != BILL_FINISHED:
        return None
    if notification.resource_type != "encrypt-resource":
        raise InvalidInput(f"unexpected resource_type {notification.resource_type}", field="resource_type")
    plaintext = decrypt(notification.resource, keys.api_v3_key)
    try:
        document = json.loads(plaintext)
        if isinstance(document, dict) and "mch_id" not in document and "mchid" in document:
            document["mch_id"] = document["mchid"]
        notice = BillNotice.model_validate(document)
    except (ValueError, ValidationError) as error:
        detail = _first(error) if isinstance(error, ValidationError) else "not JSON"
        raise InvalidInput(f"the resource is not a transfer bill: {detail}", field="resource") from None
    if notice.mch_id != keys.mch_id:
        raise InvalidInput("the bill belongs to another merchant", field="mch_id")
    return notice


def _first(error: ValidationError) -> str:
    detail = error.errors()[0]
    return (
        f"{'.'.join(str(part) for part in detail.get('loc', ())) or 'body'}: {detail.get('msg', 'invalid')}"
    )
