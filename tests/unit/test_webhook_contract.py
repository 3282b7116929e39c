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
    "order_source_updated",
    "order_flagged",
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


# --- the WeChat Store additions (seed 004): scene signals, channel, admin account, late signals, flags


def test_order_paid_takes_a_list_of_scene_signals_a_channel_and_the_shops_admin_account() -> None:
    event = _parse(sample_body("order_paid_wechat_store"))
    data = event.data  # type: ignore[attr-defined]
    assert data.is_wechat_store and data.shop.admin_account_id == "finder-shop-admin"
    assert [signal.kind for signal in data.source.signals] == ["official_account"]


def test_without_signals_the_old_scene_gives_the_one_signal() -> None:
    body = sample_body("order_paid")
    event = _parse(body)
    signals = event.data.source.signals  # type: ignore[attr-defined]
    assert [(s.kind, s.sharer_guide_id) for s in signals] == [("wecom_share", "guide-zhangwei")]
    assert event.data.channel is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("signal", "field"),
    [
        ({"kind": "billboard"}, "data.source.signals.0.kind"),
        ({"kind": "mini_program", "via_ad": "yes"}, "data.source.signals.0.via_ad"),
        ({"kind": "mini_program", "via_ad": 1}, "data.source.signals.0.via_ad"),
        ({"kind": "wecom_share", "share_channel": "email"}, "data.source.signals.0.share_channel"),
        ({"kind": "live", "observed_at": "yesterday"}, "data.source.signals.0.observed_at"),
        ({"kind": "live", "video_account_id": 42}, "data.source.signals.0.video_account_id"),
    ],
)
def test_a_bad_scene_signal_is_refused_naming_its_field(signal: dict[str, object], field: str) -> None:
    body = sample_body("order_paid_wechat_store")
    body["data"]["source"]["signals"] = [signal]
    with pytest.raises(InvalidInput) as raised:
        _parse(body)
    assert raised.value.field == field


def test_a_source_with_neither_scene_nor_signals_is_refused() -> None:
    body = sample_body("order_paid")
    body["data"]["source"] = {"affiliate_id": "aff-1"}
    with pytest.raises(InvalidInput) as raised:
        _parse(body)
    assert raised.value.field == "data.source"


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("order_source_updated", "order_id"),
        ("order_source_updated", "updated_at"),
        ("order_source_updated", "source"),
        ("order_flagged", "order_id"),
        ("order_flagged", "flagged_at"),
        ("order_flagged", "flagged_by"),
        ("order_flagged", "reason"),
    ],
)
def test_a_missing_field_of_a_late_signal_or_a_flag_is_named(name: str, field: str) -> None:
    body = sample_body(name)
    del body["data"][field]
    with pytest.raises(InvalidInput) as raised:
        _parse(body)
    assert raised.value.field == f"data.{field}"


def test_a_flag_names_who_flagged_merchant_or_platform() -> None:
    body = sample_body("order_flagged")
    body["data"]["flagged_by"] = "customer"
    with pytest.raises(InvalidInput) as raised:
        _parse(body)
    assert raised.value.field == "data.flagged_by"
