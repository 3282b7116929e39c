"""WeChat Pay APIv3, what its transfer client and its notifications share: how a request is
signed with the merchant's key, how WeChat Pay's signature on an answer or a notification is
verified, and the states a transfer bill reports."""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
SIGNATURE_WINDOW_SECONDS = 300
"""How far a signed answer's or notification's timestamp may be from our clock."""

SUCCESS_STATE = "SUCCESS"
WAITING_STATE = "WAIT_USER_CONFIRM"
CANCELLED_STATE = "CANCELLED"
FAILED_STATE = "FAIL"
PENDING_STATES = frozenset({"ACCEPTED", "PROCESSING", "TRANSFERING", "CANCELING"})


@functools.lru_cache(maxsize=16)
def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    """The merchant's RSA private key; ValueError when the PEM text is not one. Parsing a key costs
    tens of milliseconds of CPU; a container keeps the few it has parsed (keys are immutable)."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the WeChat Pay merchant key must be an RSA private key")
    return key


def signing_message(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """The text a v3 request signature covers (``path`` includes any query string)."""
    return f"{method}\n{path}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"


def sign(private_key: rsa.RSAPrivateKey, message: bytes) -> str:
    """Base64 of the RSA-SHA256 (PKCS#1 v1.5) signature of ``message``."""
    return base64.b64encode(private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def load_public_key(pem: str) -> rsa.RSAPublicKey:
    """The WeChat Pay public key; ValueError when the PEM text is not an RSA public key."""
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the WeChat Pay public key must be an RSA public key")
    return key


def signature_problem(
    public_key: rsa.RSAPublicKey,
    key_id: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    window_seconds: int = SIGNATURE_WINDOW_SECONDS,
) -> str | None:
    """Why a WeChat Pay signature (answer or notification) does not hold, or None when it does.

    ``headers`` are matched case-insensitively: ``Wechatpay-Serial`` must name ``key_id``,
    ``Wechatpay-Timestamp`` be within ``window_seconds`` of ``now``, and ``Wechatpay-Signature``
    verify over ``TIMESTAMP\\nNONCE\\nBODY\\n`` (RSA-SHA256, PKCS#1 v1.5).
    """
    lower = {name.lower(): value for name, value in headers.items()}
    serial, stamp = lower.get("wechatpay-serial", ""), lower.get("wechatpay-timestamp", "")
    nonce, signature = lower.get("wechatpay-nonce", ""), lower.get("wechatpay-signature", "")
    kind = lower.get("wechatpay-signature-type", AUTH_SCHEME)
    if not (serial and stamp and nonce and signature):
        return "the Wechatpay-* signature headers are missing"
    if kind != AUTH_SCHEME:
        return f"unsupported signature type {kind}"
    if serial != key_id:
        return f"Wechatpay-Serial {serial} is not the configured WeChat Pay public key"
    if not stamp.isdigit() or abs(now - int(stamp)) > window_seconds:
        return "Wechatpay-Timestamp is outside the accepted window"
    message = f"{stamp}\n{nonce}\n".encode() + body + b"\n"
    try:
        public_key.verify(
            base64.b64decode(signature, validate=True), message, padding.PKCS1v15(), hashes.SHA256()
        )
    except (InvalidSignature, binascii.Error, ValueError):
        return "Wechatpay-Signature does not verify"
    return None
