"""The state the round-trip benchmark's paths start from, made through the layer's services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

CORP = "ww-local-corp"


def payout_waiting(reward_id: str) -> str:
    """The payout of an online guide reward, as its grant made it, queued alone for the worker."""
    from incentives.payouts.model import payout_id_for
    from incentives.runtime import wiring

    payout_id = payout_id_for(CORP, f"reward:{reward_id}")
    payout = wiring.payout_repository().get(CORP, payout_id)
    assert payout is not None and payout.status.value == "queued", payout
    wiring.payout_queue().send(CORP, payout_id, payout.generation)
    return payout_id


def affiliate_program(paid_at: datetime) -> None:
    """A program with levels, promoter A (upline B) and customer C bound to A, a day before
    ``paid_at``, the affiliate order's payment: the affiliate paths decide, credit and count level
    figures. The bench pays at the time it runs, so every path sees the same timeline (payment,
    completion, the window's end) relative to the processor's clock, whatever the day."""
    from incentives.affiliates.program import ProgramSettings
    from incentives.levels.service import save_settings as save_levels
    from incentives.levels.settings import LevelSettings
    from incentives.runtime import wiring
    from incentives.storage.affiliates import store
    from incentives.storage.affiliates.membership import ApplicationInput, submit_application
    from incentives.storage.affiliates.referrals import bind
    from incentives.webhook.models import ReferralClicked

    wiring.reset()
    table, now = wiring.table(), paid_at - timedelta(days=1)
    settings = {
        "promotion_enabled": True,
        "invitation_image_url": "https://img.example.com/invite.png",
        "commission_rate_bp": 1000,
        "invite_rate_bp": 500,
        "application": {"review": "auto"},
    }
    store.save_settings(table, CORP, ProgramSettings.model_validate(settings), now)
    levels = {
        "levels": [
            {"name": "普通", "commission_rate_bp": 1000},
            {
                "name": "银牌",
                "commission_rate_bp": 1500,
                "period_days": 30,
                "threshold": {"conditions": [{"metric": "paid_orders", "at_least": 1}]},
            },
        ]
    }
    save_levels(wiring.level_repository(), CORP, LevelSettings.model_validate(levels), now)
    for who, upline in (("aff-B", None), ("aff-A", "aff-B")):
        submit_application(table, CORP, who, ApplicationInput(openid=f"openid-{who}", invited_by=upline), now)
    click = ReferralClicked(
        customer_id="oUnion-bench", affiliate_id="aff-A", clicked_at=now + timedelta(hours=1)
    )
    bind(table, CORP, "click-bench", click, now + timedelta(hours=1))


def assert_commissions_paid(order_fen: int) -> None:
    """The affiliate path did what it names: A earned the commission, B (A's upline) the invite
    share, and both beneficiaries' level figures counted the order."""
    from incentives.affiliates.commission import account
    from incentives.ledger.model import Bucket
    from incentives.runtime import wiring

    ledger = wiring.ledger_repository()
    a, b = ledger.balance(account(CORP, "aff-A")), ledger.balance(account(CORP, "aff-B"))
    assert a[Bucket.EARNED] == order_fen * 1000 // 10_000, a  # commission_rate_bp 1000
    assert b[Bucket.EARNED] == order_fen * 500 // 10_000, b  # invite_rate_bp 500
    standing = wiring.level_repository().standing(CORP, "aff-A")
    assert standing.totals.get("paid_orders") == 1 and standing.owes_assessment, standing
    upline = wiring.level_repository().standing(CORP, "aff-B")
    assert upline.totals.get("paid_orders") == 1, upline


GUIDE = "guide-visits"


def guide_program() -> None:
    """A guide of an outlet and an enabled "store visit" rule (200 fen, no monthly limit), paid
    offline (the default settings): a visit the guide brings earns a reward and its payout."""
    from incentives.guides.programs import RuleInput, create_custom_rule
    from incentives.runtime import wiring
    from incentives.storage.guides import TableGuideRepository
    from incentives.storage.org import guide_item
    from incentives.storage.table import Put

    wiring.reset()
    table, now = wiring.table(), datetime.now(UTC)
    guide = {"user_id": GUIDE, "name": "张伟", "dept_path": ["1", "2"], "outlet_ids": ["2"]}
    table.transact([Put(guide_item(CORP, guide))])
    rule = RuleInput(name="到店打卡", behavior="store_visit", amount_fen=200)
    create_custom_rule(TableGuideRepository(table), CORP, rule, now - timedelta(hours=1))


def pay_guides_online() -> None:
    """The tenant pays guide rewards online (WeCom Pay): each reward queues its payout."""
    from incentives.guides.rules import PaymentMethod
    from incentives.guides.settings import IncentiveSettings, save_settings
    from incentives.runtime import wiring

    online = IncentiveSettings(payment_method=PaymentMethod.ONLINE)
    assert wiring.wecom_pay_configured(CORP)
    save_settings(wiring.guide_repository(), CORP, online, True, datetime.now(UTC))


def store_visit(event_id: str) -> dict[str, Any]:
    """A webhook body: a customer the guide brought visited the store just now."""
    from tests.support import sample_body

    at = datetime.now(UTC).isoformat()
    body = sample_body("customer_behavior")
    body.update(event_id=event_id, occurred_at=at)
    body["data"].update(behavior="store_visit", occurred_at=at, guide_id=GUIDE, customer_id=f"c-{event_id}")
    return body


def rewards_of_guide() -> list[dict[str, Any]]:
    from incentives.runtime import wiring
    from tests.support.guide_rewards import stored_rewards

    return stored_rewards(wiring.guide_repository(), CORP, GUIDE)
