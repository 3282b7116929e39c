"""Hostile bodies on every kind of entry point: a clear 4xx naming the problem, nothing kept.

Deep nesting, huge integers, UTF-16 / UTF-32 bodies, unknown XML encodings and money that is
not a bounded integer once answered 502 (an exception in the handler) or were accepted and
then failed in the processor. The JSON API checks run on ``POST /affiliate/withdrawals``
(money in the body) and ``PUT /admin/affiliates/settings`` (nested models).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from incentives.core.money import MAX_FEN
from tests.conftest import StackHandle
from tests.integration.test_wecom_callback import _event_xml, _signed_post
from tests.support import api_event, order_paid, order_refunded, sample_body, signed_headers, token_for

WEBHOOK = "OrderWebhookFunction"
CALLBACK = "WecomCallbackFunction"
CENTER_API = "AffiliateApiFunction"
CONSOLE_API = "AffiliateAdminApiFunction"

DEEP = b"[" * 10_000 + b"]" * 10_000
DEEP_OBJECTS = b'{"a":' * 5_000 + b"1" + b"}" * 5_000
HUGE_INTEGER = b'{"amount_fen": ' + b"9" * 5_000 + b', "request_id": "r1"}'


def _as_gateway_sends(event: dict[str, Any], raw: bytes) -> dict[str, Any]:
    """The body as API Gateway passes it: text when it is UTF-8, base64 otherwise."""
    try:
        event["body"], event["isBase64Encoded"] = raw.decode("utf-8"), False
    except UnicodeDecodeError:
        event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode("ascii"), True
    return event


def _answer(response: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return response["statusCode"], json.loads(response["body"])["error"]


def _nothing_kept(stack: StackHandle, before: list[dict[str, Any]] | None = None) -> None:
    assert stack.table_items() == (before or [])
    assert stack.drain() == []


# --- the commerce webhook (signed) ---------------------------------------------------------------


def _webhook(stack: StackHandle, raw: bytes, **headers: str) -> tuple[int, dict[str, Any]]:
    event = api_event("POST", "/webhooks/orders")
    event["headers"] = {**signed_headers(raw), **headers}
    event["multiValueHeaders"] = {key: [value] for key, value in event["headers"].items()}
    return _answer(stack.invoke(WEBHOOK, _as_gateway_sends(event, raw)))


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (DEEP, "nested more than"),
        (DEEP_OBJECTS, "nested more than"),
        (HUGE_INTEGER, "number longer than"),
        (json.dumps(order_paid()).replace("10000", "1e999", 1).encode(), "out of range"),
        (json.dumps(order_paid()).replace("10000", "NaN", 1).encode(), "NaN is not JSON"),
        (json.dumps(order_paid()).encode("utf-16"), "not UTF-8"),
        (json.dumps(order_paid()).encode("utf-16-le"), "NUL characters"),
        (json.dumps(order_paid()).encode("utf-32"), "not UTF-8"),
        (json.dumps(order_paid()).encode("utf-32-be"), "NUL characters"),
        (b"\xef\xbb\xbf" + json.dumps(order_paid()).encode(), "not valid JSON"),
    ],
)
def test_a_signed_hostile_body_is_400_naming_the_problem(
    stack: StackHandle, raw: bytes, problem: str
) -> None:
    status, error = _webhook(stack, raw)
    assert (status, error["field"]) == (400, "body")
    assert problem in error["message"]
    _nothing_kept(stack)


@pytest.mark.parametrize("amount", ["100", 100.0, True, None, -1, MAX_FEN + 1, 10**39])
def test_money_that_is_not_a_bounded_integer_is_400_naming_the_field(stack: StackHandle, amount: Any) -> None:
    body = order_paid()
    body["data"]["lines"][0]["paid_fen"] = amount
    status, error = _webhook(stack, json.dumps(body).encode())
    assert (status, error["field"]) == (400, "data.lines.0.paid_fen")
    _nothing_kept(stack)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (order_refunded("O-1", "R-1", 10**39), "data.lines.0.refund_fen"),
        (order_refunded("O-1", "R-1", "5"), "data.lines.0.refund_fen"),  # type: ignore[arg-type]
        (
            {
                **sample_body("recharge_paid"),
                "data": {**sample_body("recharge_paid")["data"], "amount_fen": 1.5},
            },
            "data.amount_fen",
        ),
        (
            order_paid(lines=[{**order_paid()["data"]["lines"][0], "quantity": "2"}]),
            "data.lines.0.quantity",
        ),
        (
            order_paid(lines=[{**order_paid()["data"]["lines"][0], "quantity": 10**7}]),
            "data.lines.0.quantity",
        ),
    ],
)
def test_every_amount_and_quantity_is_a_strict_bounded_integer(
    stack: StackHandle, body: dict[str, Any], field: str
) -> None:
    status, error = _webhook(stack, json.dumps(body).encode())
    assert (status, error["field"]) == (400, field)
    _nothing_kept(stack)


def test_the_largest_amount_is_accepted(stack: StackHandle) -> None:
    event = api_event("POST", "/webhooks/orders")
    raw = json.dumps(order_paid(paid_fen=MAX_FEN)).encode()
    event["headers"] = signed_headers(raw)
    assert stack.invoke(WEBHOOK, _as_gateway_sends(event, raw))["statusCode"] == 202


def test_a_timestamp_of_hundreds_of_digits_is_401(stack: StackHandle) -> None:
    raw = json.dumps(order_paid()).encode()
    status, error = _webhook(stack, raw, **{"X-Timestamp": "9" * 400})
    assert (status, error["field"]) == (401, "X-Timestamp")
    _nothing_kept(stack)


def test_a_hostile_body_without_a_signature_is_401(stack: StackHandle) -> None:
    event = _as_gateway_sends(api_event("POST", "/webhooks/orders"), DEEP)
    status, error = _answer(stack.invoke(WEBHOOK, event))
    assert (status, error["field"]) == (401, "X-Timestamp")
    _nothing_kept(stack)


# --- the WeCom callback (signed) -----------------------------------------------------------------


def _callback(stack: StackHandle, body: bytes, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
    event = api_event("POST", "/wecom/callback", query={key: [value] for key, value in query.items()})
    return _answer(stack.invoke(CALLBACK, _as_gateway_sends(event, body)))


def test_a_signed_message_declaring_an_unknown_encoding_is_400(stack: StackHandle) -> None:
    message = '<?xml version="1.0" encoding="x-bogus"?>' + _event_xml()
    body, query = _signed_post(message)
    status, error = _callback(stack, body.encode(), query)
    assert (status, error["field"]) == (400, "body")
    assert "unknown encoding" in error["message"] and "x-bogus" in error["message"]
    _nothing_kept(stack)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_a_signed_envelope_in_utf16_or_utf32_is_400(stack: StackHandle, encoding: str) -> None:
    body, query = _signed_post(_event_xml())
    declared = f'<?xml version="1.0" encoding="{encoding}"?>{body}'
    status, error = _callback(stack, declared.encode(encoding), query)
    assert (status, error["field"]) == (400, "body")
    assert "not UTF-8" in error["message"]
    _nothing_kept(stack)


def test_an_envelope_declaring_an_unknown_encoding_is_400(stack: StackHandle) -> None:
    body, query = _signed_post(_event_xml())
    status, error = _callback(stack, ('<?xml version="1.0" encoding="x-bogus"?>' + body).encode(), query)
    assert (status, error["field"]) == (400, "body")
    assert "unknown encoding" in error["message"]
    _nothing_kept(stack)


@pytest.mark.parametrize("created", ["9" * 5_000, "99999999999", "-1", "1e9"])
def test_a_signed_message_with_an_impossible_create_time_is_400(stack: StackHandle, created: str) -> None:
    body, query = _signed_post(_event_xml().replace("1764000000", created))
    status, error = _callback(stack, body.encode(), query)
    assert status == 400 and error["field"] in {"CreateTime", "create_time"}
    _nothing_kept(stack)


def test_the_sample_message_still_goes_through(stack: StackHandle) -> None:
    body, query = _signed_post(_event_xml())
    event = api_event("POST", "/wecom/callback", query={key: [value] for key, value in query.items()})
    response = stack.invoke(CALLBACK, _as_gateway_sends(event, body.encode()))
    assert (response["statusCode"], response["body"]) == (200, "success")
    assert len(stack.drain()) == 1


# --- a JSON API route ----------------------------------------------------------------------------


def _withdraw(
    stack: StackHandle, raw: bytes, token: str | None, content_type: str = "application/json"
) -> tuple[int, dict[str, Any]]:
    event = api_event("POST", "/affiliate/withdrawals", token=token)
    event["headers"]["Content-Type"] = content_type
    event["multiValueHeaders"]["Content-Type"] = [content_type]
    return _answer(stack.invoke(CENTER_API, _as_gateway_sends(event, raw)))


AFFILIATE = token_for("affiliate", subject="A1")


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (DEEP, "nested more than"),
        (DEEP_OBJECTS, "nested more than"),
        (HUGE_INTEGER, "number longer than"),
        (b'{"amount_fen": Infinity, "request_id": "r1"}', "Infinity is not JSON"),
        (json.dumps({"amount_fen": 100, "request_id": "r1"}).encode("utf-16"), "not UTF-8"),
        (json.dumps({"amount_fen": 100, "request_id": "r1"}).encode("utf-32"), "not UTF-8"),
        (json.dumps({"amount_fen": 100, "request_id": "r1"}).encode("utf-16-be"), "NUL characters"),
        (b'{"amount_fen": 100, "request_id": ', "not valid JSON"),
    ],
)
def test_a_hostile_api_body_is_400_naming_the_problem(stack: StackHandle, raw: bytes, problem: str) -> None:
    before = stack.table_items()
    status, error = _withdraw(stack, raw, AFFILIATE)
    assert (status, error["field"]) == (400, "body")
    assert problem in error["message"]
    _nothing_kept(stack, before)


@pytest.mark.parametrize("amount", ["100", 100.0, True, 0, MAX_FEN + 1, 10**39])
def test_api_money_that_is_not_a_bounded_integer_is_400_naming_it(stack: StackHandle, amount: Any) -> None:
    before = stack.table_items()
    raw = json.dumps({"amount_fen": amount, "request_id": "r1"}).encode()
    status, error = _withdraw(stack, raw, AFFILIATE)
    assert (status, error["field"]) == (400, "amount_fen")
    _nothing_kept(stack, before)


@pytest.mark.parametrize("raw", [DEEP, HUGE_INTEGER, b'{"amount_fen": "x"}', b"\xff\xfe{"])
def test_without_a_token_a_malformed_body_is_401(stack: StackHandle, raw: bytes) -> None:
    status, error = _withdraw(stack, raw, None)
    assert (status, error["field"]) == (401, "Authorization")
    status, error = _withdraw(stack, raw, "not.a.jwt")
    assert (status, error["field"]) == (401, "Authorization")


def test_another_audiences_token_with_a_malformed_body_is_403(stack: StackHandle) -> None:
    status, error = _withdraw(stack, b'{"amount_fen": "x"}', token_for("guide"))
    assert (status, error["code"]) == (403, "forbidden")


def test_a_body_that_is_not_json_is_415(stack: StackHandle) -> None:
    status, error = _withdraw(
        stack, b"amount_fen=100&request_id=r1", AFFILIATE, "application/x-www-form-urlencoded"
    )
    assert (status, error["field"]) == (415, "Content-Type")
    status, _ = _withdraw(stack, b"{}", AFFILIATE, "application/json; charset=utf-16")
    assert status == 415


def test_an_oversized_api_body_is_413(stack: StackHandle) -> None:
    raw = json.dumps({"amount_fen": 100, "request_id": "r1", "pad": "x" * 400_000}).encode()
    status, error = _withdraw(stack, raw, AFFILIATE)
    assert (status, error["field"]) == (413, "body")


def _put_settings(stack: StackHandle, settings: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    event = api_event(
        "PUT", "/admin/affiliates/settings", token=token_for("admin"), body=json.dumps(settings)
    )
    return _answer(stack.invoke(CONSOLE_API, event))


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"application": {"mode": "auto", "match": "none"}}, "application.match"),
        (
            {
                "application": {
                    "mode": "auto",
                    "match": "all",
                    "conditions": [{"kind": "consumption_amount", "at_least_fen": "100"}],
                }
            },
            "application.conditions.0.at_least_fen",
        ),
        ({"application": {"conditions": [{"kind": "likes_us"}]}}, "application.conditions.0.kind"),
        ({"product_rates": {"p1": {"commission_rate_bp": 10_001}}}, "product_rates.p1.commission_rate_bp"),
        ({"commission_rate_bp": 5.0}, "commission_rate_bp"),
        ({"withdrawal_threshold_fen": True}, "withdrawal_threshold_fen"),
        ({"binding_mode": "expiring", "binding_days": "30"}, "binding_days"),
        (
            {"center": {"announcements": [{"title": "t", "page_url": "http://x"}]}},
            "center.announcements.0.page_url",
        ),
    ],
)
def test_an_api_validation_error_names_the_exact_field(
    stack: StackHandle, settings: dict[str, Any], field: str
) -> None:
    status, error = _put_settings(stack, settings)
    assert (status, error["field"]) == (400, field)
    assert stack.table_items() == []


def test_a_fractional_number_answer_is_stored_and_one_dynamodb_cannot_hold_is_400(stack: StackHandle) -> None:
    form = {"custom_fields": [{"key": "height", "label": "身高", "type": "number", "enabled": True}]}
    program = {"application": {"mode": "apply", "review": "manual", "match": "none", "form": form}}
    assert (
        stack.status(CONSOLE_API, "PUT", "/admin/affiliates/settings", token_for("admin"), json=program)
        == 200
    )
    event = api_event("POST", "/affiliate/application", token=AFFILIATE)
    for height in (1e-200, 10**39):
        event["body"] = json.dumps({"answers": {"height": height}, "openid": "openid-A1"})
        status, error = _answer(stack.invoke(CENTER_API, event))
        assert (status, error["field"]) == (400, "answers.height")
    event["body"] = json.dumps({"answers": {"height": 172.5}, "openid": "openid-A1"})
    response = stack.invoke(CENTER_API, event)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["answers"] == {"height": 172.5}
