"""GET|POST /wecom/callback on the real handler: Tencent's vectors, refusals, dedupe of retries."""

from __future__ import annotations

import json
from typing import Any

import pytest

from incentives.wecom.crypto import CallbackCrypto
from tests.conftest import StackHandle
from tests.support import api_event, sample
from tests.unit.test_wecom_crypto import ECHOSTR, POST_ENCRYPT

CALLBACK = "WecomCallbackFunction"
LOCAL = CallbackCrypto("local-callback-token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "ww-local-corp")
VECTOR_BODY = (
    f"<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[{POST_ENCRYPT}]]>"
    "</Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
)


def _get(stack: StackHandle, query: dict[str, str]) -> dict[str, Any]:
    event = api_event("GET", "/wecom/callback", query={k: [v] for k, v in query.items()})
    result: dict[str, Any] = stack.invoke(CALLBACK, event)
    return result


def _post(stack: StackHandle, body: str, query: dict[str, str]) -> dict[str, Any]:
    event = api_event("POST", "/wecom/callback", query={k: [v] for k, v in query.items()}, body=body)
    result: dict[str, Any] = stack.invoke(CALLBACK, event)
    return result


def _event_xml(
    change_type: str = "add_external_contact",
    user: str = "zhangwei",
    external: str = "wmEXT1",
    created: int = 1764000000,
) -> str:
    return (
        f"<xml><ToUserName><![CDATA[ww-local-corp]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[{change_type}]]></ChangeType>"
        f"<UserID><![CDATA[{user}]]></UserID><ExternalUserID><![CDATA[{external}]]></ExternalUserID>"
        f"<State><![CDATA[outlet-21]]></State><WelcomeCode><![CDATA[WC-1]]></WelcomeCode></xml>"
    )


def _signed_post(
    message: str, crypto: CallbackCrypto = LOCAL, corp: str = "ww-local-corp"
) -> tuple[str, dict[str, str]]:
    encrypt = crypto.encrypt(message)
    query = {
        "msg_signature": crypto.signature("1764000000", "42", encrypt),
        "timestamp": "1764000000",
        "nonce": "42",
    }
    body = f"<xml><ToUserName><![CDATA[{corp}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    return body, query


def test_tencents_url_verification_vector_answers_the_bare_plaintext(stack: StackHandle) -> None:
    response = _get(
        stack,
        {
            "corp_id": "wx5823bf96d3bd56c7",
            "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
            "timestamp": "1409659589",
            "nonce": "263014780",
            "echostr": ECHOSTR,
        },
    )
    assert response["statusCode"] == 200 and response["body"] == "1616140317555161061"
    assert response["multiValueHeaders"]["Content-Type"] == ["text/plain"]


def test_tencents_message_vector_is_accepted(stack: StackHandle) -> None:
    response = _post(
        stack,
        VECTOR_BODY,
        {
            "msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6",
            "timestamp": "1409659813",
            "nonce": "1372623149",
        },
    )
    assert response["statusCode"] == 200 and response["body"] == "success"
    assert stack.drain() == []  # a text message is not an event we act on


def test_the_sample_events_are_accepted(stack: StackHandle) -> None:
    assert stack.invoke(CALLBACK, sample("wecom_callback/verify_url"))["body"] == "7389176154817193018"
    assert stack.invoke(CALLBACK, sample("wecom_callback/add_external_contact"))["body"] == "success"
    [queued] = stack.drain()
    data = json.loads(queued["Body"])["event"]["data"]
    assert (data["change_type"], data["user_id"], data["welcome_code"]) == (
        "add_external_contact",
        "zhangwei",
        "CALLBACK_CODE_0a8d",
    )


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda body, query: (body, dict(query, msg_signature="0" * 40)), 401),
        (lambda body, query: (body, dict(query, timestamp="1764000001")), 401),
        (lambda body, query: (body.replace("ww-local-corp", "ww-someone-else"), query), 401),
        (lambda body, query: (body, {}), 401),
        (lambda body, query: ("<xml><ToUserName>ww-local-corp</ToUserName></xml>", query), 400),
        (lambda body, query: ("not xml at all", query), 400),
        (
            lambda body, query: ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><xml>&a;</xml>', query),
            400,
        ),
        (lambda body, query: ("<xml>" + "x" * 70_000 + "</xml>", query), 413),
    ],
)
def test_bad_posts_are_refused_and_change_nothing(stack: StackHandle, mutate: Any, status: int) -> None:
    body, query = mutate(*_signed_post(_event_xml()))
    assert _post(stack, body, query)["statusCode"] == status
    assert stack.drain() == [] and stack.table_items() == []


def test_a_truncated_ciphertext_with_a_valid_signature_is_refused(stack: StackHandle) -> None:
    encrypt = LOCAL.encrypt(_event_xml())[:-24]
    query = {"msg_signature": LOCAL.signature("1", "2", encrypt), "timestamp": "1", "nonce": "2"}
    body = f"<xml><ToUserName>ww-local-corp</ToUserName><Encrypt>{encrypt}</Encrypt></xml>"
    assert _post(stack, body, query)["statusCode"] == 400
    assert stack.drain() == []


def test_a_message_for_another_corp_inside_a_valid_envelope_is_refused(stack: StackHandle) -> None:
    foreign = CallbackCrypto(
        "local-callback-token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "ww-other"
    )
    body, query = _signed_post(_event_xml(), crypto=foreign)
    assert _post(stack, body, query)["statusCode"] == 401
    assert stack.drain() == []


def test_wecoms_three_retries_are_applied_once(stack: StackHandle) -> None:
    stack.wecom.contacts["wmEXT1"] = {
        "external_contact": {"external_userid": "wmEXT1", "name": "顾客", "unionid": "oUnion-1"},
        "follow_user": [],
    }
    message = _event_xml()
    for _ in range(3):  # each retry is encrypted afresh, the plaintext is the same
        body, query = _signed_post(message)
        assert _post(stack, body, query)["body"] == "success"
    first_batch = stack.drain(max_messages=10)
    arn = stack.resolver.attributes[("EventsQueue", "Arn")]
    from infra.local.poller import sqs_event

    assert stack.invoke("EventProcessorFunction", sqs_event(first_batch, arn, "r")) == {
        "batchItemFailures": []
    }
    [acquired] = stack.drain()  # one "guide acquired customer" event for the three deliveries
    event = json.loads(acquired["Body"])["event"]
    assert event["type"] == "guide.customer_acquired" and event["data"]["new_customer"] is True
    recorded = [item for item in stack.table_items() if item["kind"] == "wecom_event"]
    assert len(recorded) == 1 and recorded[0]["external_user_id"] == "wmEXT1"
    [customer] = [item for item in stack.table_items() if item["kind"] == "customer"]
    assert (customer["customer_id"], customer["guide_id"]) == ("oUnion-1", "zhangwei")
