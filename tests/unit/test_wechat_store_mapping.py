"""The field-to-scene table (README, "WeChat Store connector"): one test per row, named after it,
and the order events a store order becomes."""

from __future__ import annotations

from typing import Any

import pytest

from incentives.wechat_store import mapping
from incentives.wechat_store.orders import AfterSaleOrder, StoreOrder

PAY_TIME = 1764000000  # 2025-11-24T16:00:00Z


def order(**detail: Any) -> StoreOrder:
    document: dict[str, Any] = {
        "order_id": 3705115058471208001,  # a JSON number, as the store sends it
        "status": 20,
        "unionid": "oUnion-buyer",
        "update_time": PAY_TIME + 5,
        "order_detail": {
            "product_infos": [
                {"product_id": 10001, "sku_id": 20001, "sku_cnt": 2, "sale_price": 5000, "real_price": 9000}
            ],
            "pay_info": {"pay_time": PAY_TIME},
            "ext_info": {"commission_handling_progress": 1},
            **detail,
        },
    }
    return StoreOrder.model_validate(document)


def kinds(store_order: StoreOrder) -> list[str]:
    return [signal.kind for signal in mapping.scene_signals(store_order)]


def test_row_p1_a_promoter_sale_channel_is_a_promoter_signal() -> None:
    found = mapping.scene_signals(order(source_infos=[{"sale_channel": 100, "account_id": "talent-9"}]))
    assert [(s.kind, s.promoter_id) for s in found] == [("promoter", "talent-9")]


def test_row_p1_a_promoter_account_type_is_a_promoter_signal() -> None:
    assert kinds(
        order(source_infos=[{"sale_channel": 0, "account_type": 1000, "account_id": "agency-1"}])
    ) == ["promoter"]


def test_row_p2_a_commission_to_a_talent_is_a_promoter_signal() -> None:
    found = mapping.scene_signals(
        order(commission_infos=[{"type": 0, "talent_id": "talent-3", "amount": 100}])
    )
    assert [(s.kind, s.promoter_id) for s in found] == [("promoter", "talent-3")]


def test_row_s1_a_sku_shared_from_wecom_is_a_wecom_share_with_its_share_scene() -> None:
    found = mapping.scene_signals(
        order(sku_sharer_infos=[{"sku_id": "20001", "share_scene": 5, "from_wecom": True}])
    )
    assert [(s.kind, s.entry) for s in found] == [("wecom_share", "from_wecom, 商品详情页")]


def test_a_sku_shared_outside_wecom_is_no_scene_of_the_plan() -> None:
    assert kinds(order(sku_sharer_infos=[{"sku_id": "20001", "share_scene": 5, "from_wecom": False}])) == []


def test_row_s2_a_wecom_account_or_member_forward_is_a_wecom_share() -> None:
    assert kinds(order(source_infos=[{"account_type": 4}])) == ["wecom_share"]
    assert kinds(order(source_infos=[{"account_type": 1, "content_type": 1}])) == ["wecom_share"]


@pytest.mark.parametrize("account_type", [2, 6])
def test_row_o1_an_official_or_service_account_source_is_an_official_account_signal(
    account_type: int,
) -> None:
    found = mapping.scene_signals(order(source_infos=[{"account_type": account_type, "original_id": "gh_x"}]))
    assert [(s.kind, s.entry) for s in found] == [("official_account", "gh_x")]


def test_row_o2_an_article_product_card_is_an_official_account_signal() -> None:
    assert kinds(order(ext_info={"order_scene": 6})) == ["official_account"]


def test_row_m1_a_mini_program_source_is_a_mini_program_signal_never_marked_as_ad() -> None:
    [signal] = mapping.scene_signals(order(source_infos=[{"account_type": 3, "account_id": "wxmini"}]))
    assert (signal.kind, signal.entry, signal.via_ad) == ("mini_program", "wxmini", False)


def test_row_l1_a_live_room_order_names_its_video_account() -> None:
    [signal] = mapping.scene_signals(order(ext_info={"order_scene": 2, "finder_id": "sph-live"}))
    assert (signal.kind, signal.video_account_id) == ("live", "sph-live")


def test_row_v1_a_short_video_order_names_its_video_account() -> None:
    [signal] = mapping.scene_signals(order(ext_info={"order_scene": 3, "finder_id": "sph-v"}))
    assert (signal.kind, signal.video_account_id) == ("short_video", "sph-v")


def test_row_h1_an_order_still_parsing_share_data_is_provisional() -> None:
    assert mapping.is_provisional(order(sharer_info={"handling_progress": 0}))
    assert mapping.is_provisional(order(ext_info={"commission_handling_progress": 0}))
    assert not mapping.is_provisional(order(sharer_info={"handling_progress": 1}))


def test_every_signal_an_order_carries_is_kept_once() -> None:
    several = order(
        source_infos=[
            {"account_type": 3, "account_id": "wxmini"},
            {"account_type": 3, "account_id": "wxmini"},
        ],
        sku_sharer_infos=[{"from_wecom": True, "share_scene": 1}],
        ext_info={"order_scene": 2, "finder_id": "sph"},
    )
    assert sorted(kinds(several)) == ["live", "mini_program", "wecom_share"]
    assert kinds(several) == kinds(several)  # deterministic order


def test_the_signals_digest_ignores_when_they_were_observed() -> None:
    first = mapping.scene_signals(order(ext_info={"order_scene": 3, "finder_id": "sph"}))
    later = StoreOrder.model_validate(
        {**order(ext_info={"order_scene": 3, "finder_id": "sph"}).model_dump(), "update_time": 9}
    )
    assert mapping.signals_digest(first) == mapping.signals_digest(mapping.scene_signals(later))
    assert mapping.signals_digest(first) != mapping.signals_digest(())


def test_a_paid_order_becomes_order_paid_with_its_channel_signals_and_lines() -> None:
    store_order = order(ext_info={"order_scene": 2, "finder_id": "sph"})
    event = mapping.paid_event(
        store_order, "wechat-store-wx1", mapping.scene_signals(store_order), {"10001": ["服饰", "女装"]}
    )
    assert event is not None
    assert event.event_id == "wxs-3705115058471208001-paid"
    data = event.data
    assert (data.order_id, data.customer_id, data.channel) == (
        "3705115058471208001",
        "oUnion-buyer",
        "wechat_store",
    )
    assert data.paid_at.timestamp() == PAY_TIME
    assert [s.kind for s in data.source.signals or []] == ["live"]
    [line] = data.lines
    assert (line.line_id, line.category_path, line.quantity) == ("20001", ["服饰", "女装"], 2)
    assert (line.payable_fen, line.paid_fen, line.discount_fen) == (10000, 9000, 1000)


@pytest.mark.parametrize("status", [10, 12, 13, 250])
def test_an_unpaid_order_emits_nothing(status: int) -> None:
    unpaid = StoreOrder.model_validate({**order().model_dump(), "status": status})
    assert mapping.paid_event(unpaid, "s", (), {}) is None


def test_a_completed_order_emits_order_completed_at_the_receipt_time() -> None:
    done = StoreOrder.model_validate(
        {**order(ext_info={"confirm_receipt_time": PAY_TIME + 86400}).model_dump(), "status": 100}
    )
    event = mapping.completed_event(done)
    assert event is not None and event.data.completed_at.timestamp() == PAY_TIME + 86400
    assert mapping.completed_event(order()) is None


def test_a_refunded_after_sale_becomes_order_refunded_on_its_line_and_others_do_not() -> None:
    refund = {
        "after_sale_order_id": 77,
        "order_id": "3705115058471208001",
        "update_time": PAY_TIME + 99,
        "product_info": {"sku_id": "20001"},
        "refund_info": {"amount": 3000},
    }
    event = mapping.refunded_event(
        order(), AfterSaleOrder.model_validate({**refund, "status": "MERCHANT_REFUND_SUCCESS"})
    )
    assert event is not None and event.event_id == "wxs-3705115058471208001-refund-77"
    assert [(line.line_id, line.refund_fen) for line in event.data.lines] == [("20001", 3000)]
    pending = AfterSaleOrder.model_validate({**refund, "status": "MERCHANT_PROCESSING"})
    assert mapping.refunded_event(order(), pending) is None


def test_a_source_update_carries_the_new_signals_and_its_id_changes_with_them() -> None:
    store_order = order(ext_info={"order_scene": 3, "finder_id": "sph"})
    event = mapping.source_updated_event(store_order, mapping.scene_signals(store_order), "parsed")
    other = mapping.source_updated_event(store_order, (), "parsed")
    assert event.type == "order.source_updated" and event.data.reason == "parsed"
    assert event.event_id != other.event_id


def test_settle_info_gives_the_fee_actually_charged_once_settled() -> None:
    assert mapping.settlement(order()) is None
    settled = mapping.settlement(
        order(settle_info={"commission_fee": 300, "predict_commission_fee": 600, "settle_time": PAY_TIME})
    )
    assert settled is not None and (settled.commission_fee_fen, settled.predicted_fee_fen) == (300, 600)
