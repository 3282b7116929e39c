"""Builders for the subsidy tests: a seed-004 campaign and WeChat Store orders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from incentives.subsidy.campaign import Campaign, CampaignTerms
from incentives.webhook.models import OrderLine, OrderPaid, OrderSource, SceneSignal, Shop

TZ = "Asia/Shanghai"
JULY_2 = datetime.fromisoformat("2026-07-02T10:00:00+08:00")


def seed_terms(**changes: Any) -> CampaignTerms:
    """Seed 004: 7.1 … 7.31, signed up on 7.1 with a rating of 4.8, standard fee 5 % (服饰 6 %)."""
    values: dict[str, Any] = {
        "name": "私域激励计划 2026-07",
        "starts_on": "2026-07-01",
        "ends_on": "2026-07-31",
        "enrolment": {"signed_up_on": "2026-07-01", "rating_at_sign_up": 4.8},
        "standard_rate_ppm_by_category": {"服饰": 60_000},
        "default_standard_rate_ppm": 50_000,
        **changes,
    }
    return CampaignTerms.model_validate(values)


def seed_campaign(campaign_id: str = "c-2026-07", **changes: Any) -> Campaign:
    return Campaign(
        **seed_terms(**changes).model_dump(),
        campaign_id=campaign_id,
        updated_at=datetime.fromisoformat("2026-06-30T09:00:00+08:00"),
    )


def signal(kind: str, **fields: Any) -> SceneSignal:
    return SceneSignal.model_validate({"kind": kind, **fields})


def store_order(
    order_id: str,
    *signals: SceneSignal,
    paid_fen: int | tuple[int, ...] = 10_000,
    category: tuple[str, ...] = ("美妆",),
    paid_at: datetime = JULY_2,
    local_life: bool = False,
    admin_account_id: str | None = "finder-admin",
    channel: str | None = "wechat_store",
) -> OrderPaid:
    """A WeChat Store order, one line per amount, every line in ``category``."""
    amounts = paid_fen if isinstance(paid_fen, tuple) else (paid_fen,)
    return OrderPaid(
        order_id=order_id,
        customer_id="oUnion-buyer",
        store_id="wxstore-1",
        paid_at=paid_at,
        channel=channel,
        source=OrderSource(signals=list(signals)),
        shop=Shop(rating=4.8, local_life=local_life, admin_account_id=admin_account_id),
        lines=[
            OrderLine(
                line_id=f"L{n + 1}",
                product_id=f"sku-{n + 1}",
                category_path=list(category),
                quantity=1,
                payable_fen=fen,
                paid_fen=fen,
                discount_fen=0,
                points_fen=0,
                balance_fen=0,
            )
            for n, fen in enumerate(amounts)
        ],
    )


# --- seed 004's worked example over HTTP: five WeChat Store orders, one per scene plus one excluded

SEED_CAMPAIGN_ID = "wxstore-2026-07"
SEED_CAMPAIGN_BODY: dict[str, Any] = {
    "campaign_id": SEED_CAMPAIGN_ID,
    "name": "私域激励计划 2026-07",
    "starts_on": "2026-07-01",
    "ends_on": "2026-07-31",
    "enrolment": {"signed_up_on": "2026-07-01", "rating_at_sign_up": 4.8},
    "standard_rate_ppm_by_category": {"服饰": 60_000},
    "default_standard_rate_ppm": 50_000,
}
PAID_AT = "2026-07-02T10:00:00+08:00"
COMPLETED_AT = "2026-07-05T10:00:00+08:00"
WINDOW_PASSED = "2026-07-13T00:00:00Z"
"""Completed 7.5 10:00 (+08:00) + 7 days = 7.12 02:00 UTC: the hourly job at 7.13 closes every window."""

SEED_ORDERS: list[dict[str, Any]] = [
    # order, signals, paid, category, refund
    {
        "order_id": "WXS-share",
        "signals": [
            {"kind": "wecom_share", "share_channel": "group", "sharer_guide_id": "zhangwei"},
            {"kind": "official_account"},
        ],
        "paid_fen": 10_000,
        "category": ["美妆", "面霜"],
        "refund_fen": 2_000,
    },
    {
        "order_id": "WXS-oa",
        "signals": [{"kind": "official_account", "entry": "公众号文章"}, {"kind": "live_reservation"}],
        "paid_fen": 20_000,
        "category": ["服饰", "女装"],
        "refund_fen": 0,
    },
    {
        "order_id": "WXS-mini",
        "signals": [{"kind": "mini_program", "entry": "品牌小程序"}],
        "paid_fen": 5_000,
        "category": ["珠宝首饰", "黄金"],
        "refund_fen": 0,
    },
    {
        "order_id": "WXS-live",
        "signals": [{"kind": "live_reservation", "video_account_id": "finder-brand-live"}],
        "paid_fen": 30_000,
        "category": ["食品"],
        "refund_fen": 0,
    },
    {
        "order_id": "WXS-excluded",
        "signals": [{"kind": "wecom_share", "share_channel": "moments"}],
        "paid_fen": 8_000,
        "category": ["文玩", "手串"],
        "refund_fen": 0,
    },
]
"""Expected (standard 5 %, 服饰 6 %; reduced 1 %; card 0.4 %):

- WXS-share: settled 8000 → fee 400 → 80, saving 320, card 32 (to the shop's admin account);
- WXS-oa: 20000 (服饰 6 %) → fee 1200 → 200, saving 1000, card 80;
- WXS-mini: 5000 (珠宝首饰/黄金 is kept) → fee 250 → 50, saving 200, card 20;
- WXS-live: 30000 → fee 1500 stays, card 1200 (= 1500 − 300) to finder-brand-live;
- WXS-excluded: 文玩 → not in the plan.
"""
SEED_REPORT = {"orders": 4, "settled_fen": 63_000, "fee_saved_fen": 1_520, "growth_cards_fen": 1_332}
SEED_ROWS = {
    "wecom_share": (1, 8_000, 320, 32),
    "official_account": (1, 20_000, 1_000, 80),
    "mini_program": (1, 5_000, 200, 20),
    "live_reservation": (1, 30_000, 0, 1_200),
}


def store_paid_body(order: dict[str, Any]) -> dict[str, Any]:
    """``order.paid`` of one of :data:`SEED_ORDERS`, as the WeChat Store connector sends it."""
    fen = order["paid_fen"]
    return {
        "event_id": f"paid-{order['order_id']}",
        "type": "order.paid",
        "occurred_at": PAID_AT,
        "data": {
            "order_id": order["order_id"],
            "customer_id": "oUnion-store-buyer",
            "store_id": "wxstore-main",
            "paid_at": PAID_AT,
            "channel": "wechat_store",
            "source": {"signals": order["signals"]},
            "shop": {"rating": 4.8, "local_life": False, "admin_account_id": "finder-shop-admin"},
            "lines": [
                {
                    "line_id": "L1",
                    "product_id": f"sku-{order['order_id']}",
                    "category_path": order["category"],
                    "quantity": 1,
                    "payable_fen": fen,
                    "paid_fen": fen,
                    "discount_fen": 0,
                    "points_fen": 0,
                    "balance_fen": 0,
                }
            ],
        },
    }


def refund_body(order_id: str, refund_fen: int) -> dict[str, Any]:
    return {
        "event_id": f"refund-{order_id}",
        "type": "order.refunded",
        "occurred_at": "2026-07-03T10:00:00+08:00",
        "data": {
            "order_id": order_id,
            "refund_id": f"R-{order_id}",
            "refunded_at": "2026-07-03T10:00:00+08:00",
            "lines": [{"line_id": "L1", "refund_fen": refund_fen}],
        },
    }


def completed_body(order_id: str) -> dict[str, Any]:
    return {
        "event_id": f"completed-{order_id}",
        "type": "order.completed",
        "occurred_at": COMPLETED_AT,
        "data": {"order_id": order_id, "completed_at": COMPLETED_AT},
    }


def flagged_body(order_id: str, by: str = "platform") -> dict[str, Any]:
    return {
        "event_id": f"flagged-{order_id}-{by}",
        "type": "order.flagged",
        "occurred_at": "2026-07-20T09:00:00+08:00",
        "data": {
            "order_id": order_id,
            "flagged_at": "2026-07-20T09:00:00+08:00",
            "flagged_by": by,
            "reason": "刷单",
        },
    }


def source_updated_body(
    order_id: str, signals: list[dict[str, Any]], at: str, reason: str, n: int = 1
) -> dict[str, Any]:
    return {
        "event_id": f"source-{order_id}-{n}",
        "type": "order.source_updated",
        "occurred_at": at,
        "data": {"order_id": order_id, "updated_at": at, "source": {"signals": signals}, "reason": reason},
    }
