"""A WeChat Store order → our order events and scene signals (pure: no I/O, no clock).

The field-to-scene table (README, "WeChat Store connector", with its sources; each row has a
test in tests/unit/test_wechat_store_mapping.py):

=====  =====================================================================  =================
row    the store's field (``order/get``)                                       scene signal
=====  =====================================================================  =================
P1     ``source_infos[].sale_channel`` 100 / 101, ``account_type`` 5 / 1000,   promoter
       or ``promoter_head_supplier_id``
P2     ``commission_infos[]`` (a share paid to a 达人 / 带货机构)              promoter
S1     ``sku_sharer_infos[].from_wecom`` true (``share_scene`` kept as entry)   wecom_share
S2     ``source_infos[].account_type`` 4 (企业微信) or ``content_type`` 1        wecom_share
O1     ``source_infos[].account_type`` 2 / 6 (公众号 / 服务号)                  official_account
O2     ``ext_info.order_scene`` 6 (公众号文章商品卡片)                           official_account
M1     ``source_infos[].account_type`` 3 (小程序)                               mini_program
L1     ``ext_info.order_scene`` 2 (直播间), ``finder_id``                       live
V1     ``ext_info.order_scene`` 3 (短视频), ``finder_id``                       short_video
H1     ``sharer_info.handling_progress`` 0 or
       ``ext_info.commission_handling_progress`` 0                              provisional
=====  =====================================================================  =================

Not in the API, so taken from elsewhere (the merchant's ``order.source_updated``): live
reservation (the store does not say the viewer came from a reservation notice), ad entry and
``via_ad`` (the mini program knows the ad click, the store does not), the share channel
(group / private chat / Moments) and which guide shared.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from incentives.webhook.models import (
    OrderCompletedEvent,
    OrderPaidEvent,
    OrderRefundedEvent,
    OrderSourceUpdatedEvent,
    SceneSignal,
)
from incentives.wechat_store.orders import AfterSaleOrder, StoreOrder

CHANNEL = "wechat_store"
PAID_STATUSES = frozenset({20, 21, 30, 100})
"""待发货, 部分发货, 待收货, 完成: paid. 10 / 12 / 13 are unpaid, 250 cancelled unpaid, 200 cancelled
after every SKU's after-sale (its refunds arrive as after-sales)."""
COMPLETED_STATUS = 100
REFUNDED_AFTER_SALE = frozenset({"MERCHANT_REFUND_SUCCESS", "MERCHANT_RETURN_SUCCESS"})
PROMOTER_SALE_CHANNELS = frozenset({100, 101})
PROMOTER_ACCOUNT_TYPES = frozenset({5, 1000})
WECOM_ACCOUNT_TYPE = 4
WECOM_FORWARD_CONTENT = 1
OFFICIAL_ACCOUNT_TYPES = frozenset({2, 6})
MINI_PROGRAM_ACCOUNT_TYPE = 3
ORDER_SCENE_LIVE, ORDER_SCENE_SHORT_VIDEO, ORDER_SCENE_ARTICLE_CARD = 2, 3, 6
SHARE_SCENES = {1: "直播间", 2: "橱窗", 3: "短视频", 4: "视频号主页", 5: "商品详情页"}
STILL_PARSING = 0


def instant(unix_seconds: int) -> datetime:
    return datetime.fromtimestamp(unix_seconds, UTC)


def _id(text: str) -> str | None:
    """An identifier our contract accepts, or None (the store's ids are ASCII; anything else is dropped)."""
    cleaned = text.strip()
    if (
        cleaned
        and len(cleaned) <= 128
        and all(c.isascii() and (c.isalnum() or c in "_.:@-") for c in cleaned)
    ):
        return cleaned
    return None


def scene_signals(order: StoreOrder) -> tuple[SceneSignal, ...]:
    """Every scene signal the order's fields carry (table rows P1 … V1), deduplicated, sorted."""
    detail = order.order_detail
    observed = instant(order.update_time).isoformat() if order.update_time else None
    found: list[dict[str, Any]] = []
    for source in detail.source_infos:
        account = _id(source.account_id)
        if (
            source.sale_channel in PROMOTER_SALE_CHANNELS
            or source.account_type in PROMOTER_ACCOUNT_TYPES
            or source.promoter_head_supplier_id
        ):  # P1
            found.append(
                {"kind": "promoter", "promoter_id": account or _id(source.promoter_head_supplier_id)}
            )
        if source.account_type == WECOM_ACCOUNT_TYPE or source.content_type == WECOM_FORWARD_CONTENT:  # S2
            found.append(
                {"kind": "wecom_share", "entry": f"source_infos: WeCom {source.account_nickname}".strip()}
            )
        if source.account_type in OFFICIAL_ACCOUNT_TYPES:  # O1
            found.append(
                {"kind": "official_account", "entry": source.original_id or source.account_id or None}
            )
        if source.account_type == MINI_PROGRAM_ACCOUNT_TYPE:  # M1
            found.append({"kind": "mini_program", "entry": source.account_id or None})
    for commission in detail.commission_infos:  # P2
        found.append(
            {
                "kind": "promoter",
                "promoter_id": _id(commission.talent_id)
                or _id(commission.finder_id)
                or _id(commission.agency_id),
            }
        )
    for sharer in detail.sku_sharer_infos:  # S1
        if sharer.from_wecom:
            where = SHARE_SCENES.get(sharer.share_scene or 0, f"share_scene {sharer.share_scene}")
            found.append({"kind": "wecom_share", "entry": f"from_wecom, {where}"})
    scene = detail.ext_info.order_scene
    finder = _id(detail.ext_info.finder_id)
    if scene == ORDER_SCENE_ARTICLE_CARD:  # O2
        found.append({"kind": "official_account", "entry": "order_scene 6: 公众号文章商品卡片"})
    if scene == ORDER_SCENE_LIVE:  # L1
        found.append({"kind": "live", "video_account_id": finder})
    if scene == ORDER_SCENE_SHORT_VIDEO:  # V1
        found.append({"kind": "short_video", "video_account_id": finder})
    unique = {
        json.dumps(
            {k: v for k, v in signal.items() if v is not None}, sort_keys=True, ensure_ascii=False
        ): signal
        for signal in found
    }
    return tuple(
        SceneSignal.model_validate(
            {**{k: v for k, v in unique[key].items() if v is not None}, "observed_at": observed}
        )
        for key in sorted(unique)
    )


def is_provisional(order: StoreOrder) -> bool:
    """H1: the platform is still parsing the share data (解析中) or has not generated the commission."""
    detail = order.order_detail
    sharer_parsing = detail.sharer_info is not None and detail.sharer_info.handling_progress == STILL_PARSING
    return sharer_parsing or detail.ext_info.commission_handling_progress == STILL_PARSING


def signals_digest(signals: Iterable[SceneSignal]) -> str:
    """A stable digest of the signals' substance (``observed_at`` left out: a re-read is not a change)."""
    substance = sorted(
        json.dumps(
            signal.model_dump(exclude={"observed_at"}, exclude_none=True), sort_keys=True, ensure_ascii=False
        )
        for signal in signals
    )
    return hashlib.sha256("\n".join(substance).encode()).hexdigest()[:16]


def line_ids(order: StoreOrder) -> dict[str, str]:
    """SKU id → our line id (``product_unique_id`` when given, else the SKU id)."""
    return {
        product.sku_id: _id(product.product_unique_id) or _id(product.sku_id) or f"line-{n}"
        for n, product in enumerate(order.order_detail.product_infos, start=1)
    }


def _lines(order: StoreOrder, categories: Mapping[str, list[str]]) -> list[dict[str, Any]]:
    ids = line_ids(order)
    lines = []
    for product in order.order_detail.product_infos:
        payable = product.sale_price * product.sku_cnt
        paid = min(
            value for value in (product.real_price, product.estimate_price, payable) if value is not None
        )
        points = max(0, min(product.deduction_price, payable - paid))
        lines.append(
            {
                "line_id": ids[product.sku_id],
                "product_id": _id(product.product_id) or ids[product.sku_id],
                "category_path": categories.get(product.product_id) or ["未知类目"],
                "quantity": max(1, product.sku_cnt),
                "payable_fen": payable,
                "paid_fen": paid,
                "discount_fen": payable - paid - points,
                "points_fen": points,
                "balance_fen": 0,
            }
        )
    return lines


def paid_event(
    order: StoreOrder, store_id: str, signals: tuple[SceneSignal, ...], categories: Mapping[str, list[str]]
) -> OrderPaidEvent | None:
    """``order.paid`` once the order is paid (None before); its id is the order's: a re-push repeats it."""
    pay_time = order.order_detail.pay_info.pay_time
    if order.status not in PAID_STATUSES or not pay_time or not order.order_detail.product_infos:
        return None
    paid_at = instant(pay_time).isoformat()
    return OrderPaidEvent.model_validate(
        {
            "event_id": f"wxs-{order.order_id}-paid",
            "type": "order.paid",
            "occurred_at": paid_at,
            "data": {
                "order_id": order.order_id,
                "customer_id": _id(order.unionid) or _id(order.openid) or f"wxs-buyer-{order.order_id}",
                "store_id": store_id,
                "paid_at": paid_at,
                "channel": CHANNEL,
                "source": {"signals": [signal.model_dump(exclude_none=True) for signal in signals]},
                "lines": _lines(order, categories),
            },
        }
    )


def completed_event(order: StoreOrder) -> OrderCompletedEvent | None:
    """``order.completed`` once the store says 完成 (status 100): goods received, the window starts."""
    if order.status != COMPLETED_STATUS:
        return None
    received = order.order_detail.ext_info.confirm_receipt_time or order.update_time
    if not received:
        return None
    return OrderCompletedEvent.model_validate(
        {
            "event_id": f"wxs-{order.order_id}-completed",
            "type": "order.completed",
            "occurred_at": instant(received).isoformat(),
            "data": {"order_id": order.order_id, "completed_at": instant(received).isoformat()},
        }
    )


def refunded_event(order: StoreOrder, after_sale: AfterSaleOrder) -> OrderRefundedEvent | None:
    """``order.refunded`` for an after-sale whose money went back (退款完成 / 退货退款完成), else None."""
    amount = after_sale.refund_info.amount
    if after_sale.status not in REFUNDED_AFTER_SALE or amount <= 0:
        return None
    ids = line_ids(order)
    line_id = ids.get(after_sale.product_info.sku_id)
    if line_id is None:
        return None
    refunded_at = instant(after_sale.update_time or order.update_time).isoformat()
    return OrderRefundedEvent.model_validate(
        {
            "event_id": f"wxs-{order.order_id}-refund-{after_sale.after_sale_order_id}",
            "type": "order.refunded",
            "occurred_at": refunded_at,
            "data": {
                "order_id": order.order_id,
                "refund_id": after_sale.after_sale_order_id,
                "refunded_at": refunded_at,
                "lines": [{"line_id": line_id, "refund_fen": amount}],
            },
        }
    )


def source_updated_event(
    order: StoreOrder, signals: tuple[SceneSignal, ...], reason: str
) -> OrderSourceUpdatedEvent:
    """``order.source_updated`` with the order's signals now; its id carries their digest, so the same
    change read twice is one event."""
    updated_at = instant(order.update_time or order.create_time).isoformat()
    return OrderSourceUpdatedEvent.model_validate(
        {
            "event_id": f"wxs-{order.order_id}-source-{signals_digest(signals)}",
            "type": "order.source_updated",
            "occurred_at": updated_at,
            "data": {
                "order_id": order.order_id,
                "updated_at": updated_at,
                "source": {"signals": [signal.model_dump(exclude_none=True) for signal in signals]},
                "reason": reason,
            },
        }
    )


@dataclass(frozen=True)
class Settlement:
    """What ``settle_info`` says the platform charged once the order settled."""

    commission_fee_fen: int
    predicted_fee_fen: int | None
    settled_at: datetime


def settlement(order: StoreOrder) -> Settlement | None:
    info = order.order_detail.settle_info
    if info.commission_fee is None or not info.settle_time:
        return None
    return Settlement(info.commission_fee, info.predict_commission_fee, instant(info.settle_time))
