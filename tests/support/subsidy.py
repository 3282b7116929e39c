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
