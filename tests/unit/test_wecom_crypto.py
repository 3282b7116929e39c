"""Tencent's published WXBizMsgCrypt vectors, and every way a ciphertext can be wrong."""

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from incentives.core.errors import InvalidInput, Unauthenticated
from incentives.wecom.crypto import CallbackCrypto

TOKEN, AES_KEY, CORP = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7"
ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
POST_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3"
    "TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5g"
    "sijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQU"
    "ax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPI"
    "GHBZZIs2pDBS8R07+qN+E7Q=="
)
CRYPTO = CallbackCrypto(TOKEN, AES_KEY, CORP)


def test_the_published_url_verification_vector() -> None:
    CRYPTO.verify("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780", ECHOSTR)
    assert CRYPTO.decrypt(ECHOSTR) == "1616140317555161061"


def test_the_published_message_vector() -> None:
    CRYPTO.verify("477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149", POST_ENCRYPT)
    message = CRYPTO.decrypt(POST_ENCRYPT)
    for part in (
        "<ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>",
        "<FromUserName><![CDATA[mycreate]]>",
        "<CreateTime>1409659813</CreateTime>",
        "<Content><![CDATA[hello]]></Content>",
        "<MsgId>4561255354251345929</MsgId>",
        "<AgentID>218</AgentID>",
    ):
        assert part in message


def test_utf8_content_is_measured_in_bytes() -> None:
    message = "<xml><Content><![CDATA[欢迎光临静安店，导购小王为您服务 🎁]]></Content></xml>"
    assert CRYPTO.decrypt(CRYPTO.encrypt(message)) == message


@given(st.text(max_size=300), st.binary(min_size=16, max_size=16))
def test_encrypt_then_decrypt_is_the_identity(message: str, prefix: bytes) -> None:
    assert CRYPTO.decrypt(CRYPTO.encrypt(message, prefix)) == message


def test_a_tampered_signature_is_refused() -> None:
    with pytest.raises(Unauthenticated):
        CRYPTO.verify("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd4", "1409659589", "263014780", ECHOSTR)
    with pytest.raises(Unauthenticated):
        CRYPTO.verify("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659590", "263014780", ECHOSTR)


def test_a_message_for_another_corp_is_refused() -> None:
    with pytest.raises(Unauthenticated, match="another corp"):
        CallbackCrypto(TOKEN, AES_KEY, "ww-other").decrypt(ECHOSTR)


@pytest.mark.parametrize("ciphertext", [ECHOSTR[:-8] + "==", ECHOSTR[:44], "not base64 !!", "", "QUJD"])
def test_a_truncated_or_garbled_ciphertext_is_refused(ciphertext: str) -> None:
    with pytest.raises(InvalidInput):
        CRYPTO.decrypt(ciphertext)


def test_padding_outside_1_to_32_is_refused() -> None:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = base64.b64decode(AES_KEY + "=")
    plain = bytes(16) + (5).to_bytes(4, "big") + b"hello" + CORP.encode()
    plain += bytes([0]) * (32 - len(plain) % 32)  # a pad byte of 0 is not PKCS#7
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    forged = base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()
    with pytest.raises(InvalidInput, match="padding"):
        CRYPTO.decrypt(forged)
