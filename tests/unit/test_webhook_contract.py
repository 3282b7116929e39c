"""SPEC §3.2: every event type parses; a missing required field is a 400 naming it."""

import json

import pytest

from incentives.core.errors import InvalidInput
from incentives.events.intake import parse_webhook_event
from incentives.webhook.models import WEBHOOK_EVENT_TYPES
from tests.support import sample_body

SAMPLES = [
    "order_paid",
    "order_refunded",
    "order_completed",
    "coupon_redeemed",
    "recharge_paid",
    "member_registered",
    "referral_clicked",
    "customer_behavior",
    "customer_updated",
]


def _parse(body: object) -> object:
    return parse_webhook_event(json.dumps(body).encode())


@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_event_parses(name: str) -> None:
    event = _parse(sample_body(name))
    assert event.type == name.replace("_", ".", 1)  # type: ignore[attr-defined]


def test_every_event_type_has_a_sample() -> None:
    assert sorted(name.replace("_", ".", 1) for name in SAMPLES) == sorted(WEBHOOK_EVENT_TYPES)


REQUIRED_ORDER_PAID = ["order_id", "customer_id", "store_id", "paid_at", "source", "lines"]
REQUIRED_LINE = [
    "line_id",
    "product_id",
    "category_path",
    "quantity",
    "payable_fen",
    "paid_fen",
    "discount_fen",
    "points_fen",
    "balance_fen",
]


@pytest.mark.parametrize("field", REQUIRED_ORDER_PAID)
def test_a_missing_order_field_is_named(field: str) -> None:
    body = sample_body("order_paid")
    del body["data"][field]
    with pytest.raises(InvalidInput) as raised:
        _parse(body)
    assert raised.value.field == f"data.{field}"


@pytest.mark.parametrize("field", REQUIRED_LINE)
def test_a_missing_line_field_is_named_with_its_position(field: str) -> None:
    body = sample_body("order_paid")
    del body["data"]["lines"][1][field]
    with pytest.raises(InvalidInput) as raised:
        _parse(body)
    assert raised.value.field == f"data.lines.1.{field}"


@pytest.mark.parametrize("field", ["event_id", "type", "occurred_at", "data"])
def test_a_missing_envelope_field_is_named(field: str) -> None:
    body = sample_body("order_paid")
    del body[field]
    with pytest.raises(InvalidInput) as raised:
        _parse(body)
    assert raised.value.field == field


def test_an_unknown_type_is_refused_naming_type() -> None:
    body = dict(sample_body("order_paid"), type="order.teleported")
    with pytest.raises(InvalidInput) as raised:
        _parse(body)
    assert raised.value.field == "type"


def test_unknown_fields_are_ignored() -> None:
    body = sample_body("order_paid")
    body["data"]["warehouse"] = "north"
    body["data"]["lines"][0]["gift_wrap"] = True
    assert _parse(body).data.order_id == "SO202611240001"  # type: ignore[attr-defined]


def test_negative_amounts_are_refused() -> None:
    body = sample_body("order_paid")
    body["data"]["lines"][0]["paid_fen"] = -1
    with pytest.raises(InvalidInput) as raised:
        _parse(body)
    assert raised.value.field == "data.lines.0.paid_fen"


def test_a_time_without_zone_is_refused() -> None:
    body = sample_body("order_completed")
    body["data"]["completed_at"] = "2026-11-27T18:30:00"
    with pytest.raises(InvalidInput) as raised:
        _parse(body)
    assert raised.value.field == "data.completed_at"


def test_a_line_listed_twice_is_refused() -> None:
    body = sample_body("order_paid")
    body["data"]["lines"][1]["line_id"] = body["data"]["lines"][0]["line_id"]
    with pytest.raises(InvalidInput, match="appears twice"):
        _parse(body)


@pytest.mark.parametrize("raw", [b"not json", b"[1,2]", b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_refused(raw: bytes) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_webhook_event(raw)
    assert raised.value.field == "body"
