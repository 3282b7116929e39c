"""The store's message pushes: WeChat's message encryption, verified, decrypted, hardened, fresh."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from incentives.core.errors import InvalidInput, PayloadTooLarge, Unauthenticated
from incentives.wechat_store.push import StoreCredentials, open_push, read_message, verify_url

CREDENTIALS = StoreCredentials("wxstore01", "push-token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
STAMP = "1764000000"
NOW = datetime.fromtimestamp(int(STAMP) + 10, UTC)


def push(
    message: dict[str, object] | str, *, appid: str = "wxstore01", stamp: str = STAMP
) -> tuple[dict[str, str], bytes]:
    crypto = StoreCredentials(appid, CREDENTIALS.token, CREDENTIALS.encoding_aes_key).crypto()
    text = message if isinstance(message, str) else json.dumps(message, ensure_ascii=False)
    encrypt = crypto.encrypt(text)
    query = {
        "timestamp": stamp,
        "nonce": "n1",
        "encrypt_type": "aes",
        "msg_signature": crypto.signature(stamp, "n1", encrypt),
    }
    return query, json.dumps({"ToUserName": "gh_store", "Encrypt": encrypt}).encode()


PAID = {
    "MsgType": "event",
    "Event": "channels_ec_order_pay",
    "CreateTime": 1764000000,
    "order_info": {"order_id": 3705115058471208001, "pay_time": 1764000000},
}


def test_an_order_push_is_verified_decrypted_and_read_with_its_big_order_id_exact() -> None:
    query, body = push(PAID)
    message = open_push(CREDENTIALS, query, body, NOW)
    assert message is not None
    assert (message.event, message.order_id, message.after_sale_order_id) == (
        "channels_ec_order_pay",
        "3705115058471208001",
        None,
    )


def test_a_retry_of_the_same_message_has_the_same_identity_under_fresh_encryption() -> None:
    first = open_push(CREDENTIALS, *push(PAID), NOW)
    second = open_push(CREDENTIALS, *push(PAID), NOW)
    assert first is not None and second is not None and first.identity == second.identity


def test_an_after_sale_push_names_the_after_sale() -> None:
    update = {"order_id": "42", "after_sale_order_id": "9000000001", "status": "MERCHANT_REFUND_SUCCESS"}
    message = open_push(
        CREDENTIALS,
        *push({"Event": "channels_ec_aftersale_update", "finder_shop_aftersale_status_update": update}),
        NOW,
    )
    assert message is not None and (message.order_id, message.after_sale_order_id) == ("42", "9000000001")


def test_an_xml_envelope_and_message_are_read_too() -> None:
    crypto = CREDENTIALS.crypto()
    xml = (
        "<xml><Event><![CDATA[channels_ec_order_confirm]]></Event>"
        "<order_info><order_id>77</order_id></order_info></xml>"
    )
    encrypt = crypto.encrypt(xml)
    query = {"timestamp": STAMP, "nonce": "n", "msg_signature": crypto.signature(STAMP, "n", encrypt)}
    message = open_push(
        CREDENTIALS, query, f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode(), NOW
    )
    assert message is not None and (message.event, message.order_id) == ("channels_ec_order_confirm", "77")


def test_an_event_the_connector_does_not_follow_is_acknowledged_and_dropped() -> None:
    assert open_push(CREDENTIALS, *push({"Event": "product_spu_audit"}), NOW) is None


def test_a_wrong_signature_is_refused() -> None:
    query, body = push(PAID)
    with pytest.raises(Unauthenticated) as refused:
        open_push(CREDENTIALS, {**query, "msg_signature": "0" * 40}, body, NOW)
    assert refused.value.field == "msg_signature"


def test_a_message_for_another_store_is_refused() -> None:
    with pytest.raises(Unauthenticated):
        open_push(CREDENTIALS, *push(PAID, appid="wxother"), NOW)


def test_a_replayed_push_outside_the_window_is_refused() -> None:
    with pytest.raises(Unauthenticated) as refused:
        open_push(CREDENTIALS, *push(PAID, stamp="1763990000"), NOW)
    assert refused.value.field == "timestamp"


def test_an_entity_in_the_envelope_is_refused_before_anything_is_read() -> None:
    evil = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><xml><Encrypt>&e;</Encrypt></xml>'
    with pytest.raises(InvalidInput):
        open_push(CREDENTIALS, {"timestamp": STAMP}, evil, NOW)


def test_an_oversized_body_is_refused() -> None:
    with pytest.raises(PayloadTooLarge):
        open_push(CREDENTIALS, {}, b"{" + b" " * 70_000 + b"}", NOW)


def test_a_push_without_a_usable_order_id_is_a_400_naming_it() -> None:
    with pytest.raises(InvalidInput) as refused:
        read_message(json.dumps({"Event": "channels_ec_order_pay", "order_info": {"order_id": "../x"}}))
    assert refused.value.field == "order_id"


def test_url_verification_echoes_echostr_only_with_the_right_signature() -> None:
    signature = hashlib.sha1("".join(sorted(["push-token", STAMP, "n"])).encode()).hexdigest()
    query = {"signature": signature, "timestamp": STAMP, "nonce": "n", "echostr": "123456"}
    assert verify_url(CREDENTIALS, query, NOW) == "123456"
    with pytest.raises(Unauthenticated):
        verify_url(CREDENTIALS, {**query, "signature": "f" * 40}, NOW)
