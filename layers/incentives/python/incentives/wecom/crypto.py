"""Tencent's callback crypto for WeCom (WXBizMsgCrypt), exactly as published.

- ``msg_signature = sha1(''.join(sorted([token, timestamp, nonce, encrypt])))``, hex;
- AES-256-CBC, key = base64decode(EncodingAESKey + "="), IV = key[:16];
- PKCS#7 padding with a block size of 32 (pad 1..32; anything else is refused);
- plaintext = 16 random bytes + 4-byte big-endian length + message (length in *bytes*) +
  receiveid (the corp id, which must match).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from incentives.core.errors import InvalidInput, Unauthenticated

BLOCK_SIZE = 32
MAX_CIPHERTEXT_CHARS = 64 * 1024


class CallbackCrypto:
    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        if len(encoding_aes_key) != 43:
            raise ValueError("an EncodingAESKey has 43 characters")
        self._token = token
        self._key = base64.b64decode(encoding_aes_key + "=")
        self._receive_id = receive_id

    def signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        return hashlib.sha1("".join(sorted([self._token, timestamp, nonce, encrypt])).encode()).hexdigest()  # noqa: S324

    def verify(
        self, msg_signature: str | None, timestamp: str | None, nonce: str | None, encrypt: str | None
    ) -> None:
        if not (msg_signature and timestamp and nonce and encrypt):
            raise Unauthenticated(
                "msg_signature, timestamp, nonce and the ciphertext are required", field="msg_signature"
            )
        expected = self.signature(timestamp, nonce, encrypt)
        if not hmac.compare_digest(expected, msg_signature.lower()):
            raise Unauthenticated("msg_signature does not match", field="msg_signature")

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def decrypt(self, encrypt: str) -> str:
        """The message inside ``encrypt``; raises :class:`InvalidInput` on any malformation."""
        if len(encrypt) > MAX_CIPHERTEXT_CHARS:
            raise InvalidInput("the ciphertext is too long", field="Encrypt")
        try:
            data = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("the ciphertext is not base64", field="Encrypt") from None
        if not data or len(data) % 16:
            raise InvalidInput("the ciphertext is truncated", field="Encrypt")
        decryptor = self._cipher().decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        pad = padded[-1]
        if not 1 <= pad <= BLOCK_SIZE or padded[-pad:] != bytes([pad]) * pad:
            raise InvalidInput("bad padding", field="Encrypt")
        plain = padded[:-pad]
        if len(plain) < 20:
            raise InvalidInput("the plaintext is too short", field="Encrypt")
        (length,) = struct.unpack(">I", plain[16:20])
        message, receive_id = plain[20 : 20 + length], plain[20 + length :]
        if len(message) != length:
            raise InvalidInput("the message length does not match", field="Encrypt")
        if receive_id.decode("utf-8", "replace") != self._receive_id:
            raise Unauthenticated("the message is for another corp", field="ToUserName")
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("the message is not UTF-8", field="Encrypt") from None

    def encrypt(self, message: str, random_prefix: bytes | None = None) -> str:
        """Encrypt as WeCom does (used by the sandbox to send callbacks, and for replies)."""
        body = message.encode("utf-8")
        plain = (
            (random_prefix or os.urandom(16))
            + struct.pack(">I", len(body))
            + body
            + self._receive_id.encode()
        )
        pad = BLOCK_SIZE - len(plain) % BLOCK_SIZE
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()).decode()
