"""The ten level metrics, each named after its seed definition (seed 001 §2.3.3 字段解释), with its
timing (at payment, or once the after-sales window has passed) and what refunds do to it. Events
go through the product's own dispatch on the in-memory table."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from incentives.webhook.models import (
    MemberRegistered,
    OrderCompleted,
    OrderLine,
    OrderPaid,
    OrderRefunded,
    OrderSource,
    RechargePaid,
    ReferralClicked,
    RefundLine,
)
from tests.support import paid_fact
from tests.support.levels import LevelWorld

T0 = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)
"""4.1 10:00 in Shanghai."""
DAY = timedelta(days=1)


def _day(moment: datetime) -> date:
    return (moment + timedelta(hours=8)).date()


def _world(**program: object) -> LevelWorld:
    """A (invited by B) has customer C bound since T0 − 1 h."""
    world = LevelWorld.create(T0, **program)
    world.join("B")
    world.join("A", invited_by="B")
    world.send(
        "click-C-A", ReferralClicked(customer_id="C", affiliate_id="A", clicked_at=T0 - timedelta(hours=1))
    )
    return world


def _refund(order_id: str, refund_id: str, fen: int, at: datetime, line: str = "L0") -> OrderRefunded:
    return OrderRefunded(
        order_id=order_id,
        refund_id=refund_id,
        refunded_at=at,
        lines=[RefundLine(line_id=line, refund_fen=fen)],
    )


def test_bound_customers_count_customers_newly_bound_once_each_on_the_day_the_binding_began() -> None:
    world = _world()
    world.send("click-C-A-again", ReferralClicked(customer_id="C", affiliate_id="A", clicked_at=T0 + DAY))
    world.send("click-D-A", ReferralClicked(customer_id="D", affiliate_id="A", clicked_at=T0 + 2 * DAY))
    world.send("click-D-A", ReferralClicked(customer_id="D", affiliate_id="A", clicked_at=T0 + 2 * DAY))
    assert world.totals("A")["bound_customers"] == 2
    assert {day: n["bound_customers"] for day, n in world.days("A").items()} == {
        _day(T0 - timedelta(hours=1)): 1,
        _day(T0 + 2 * DAY): 1,
    }


def test_bound_customers_follow_the_bindings_not_the_arrival_order_of_clicks() -> None:
    """Permanent binding: a click on B's link made before A's, arriving later, makes C B's customer."""
    world = _world()
    world.send("click-C-B", ReferralClicked(customer_id="C", affiliate_id="B", clicked_at=T0 - 2 * DAY))
    assert world.totals("A").get("bound_customers", 0) == 0
    assert world.totals("B")["bound_customers"] == 1


def test_invited_affiliates_count_people_who_became_affiliates_through_the_invitation() -> None:
    world = _world()
    world.join("E", invited_by="A")
    world.join("F", invited_by="A")
    assert world.totals("A")["invited_affiliates"] == 2
    assert world.totals("B")["invited_affiliates"] == 1  # A
    assert world.days("A")[_day(T0)]["invited_affiliates"] == 2


def test_invited_members_count_people_who_registered_as_members_through_the_invitation_once() -> None:
    world = _world()
    member = MemberRegistered(customer_id="M1", registered_at=T0 + DAY, invited_by_affiliate_id="A")
    world.send("member-M1", member)
    world.send("member-M1-again", member)
    world.send("member-M2", MemberRegistered(customer_id="M2", registered_at=T0 + DAY))
    assert world.totals("A")["invited_members"] == 1
    assert world.days("A")[_day(T0 + DAY)]["invited_members"] == 1


def test_paid_orders_count_orders_that_earned_a_reward_at_payment_and_after_sales_never_reduce_them() -> None:
    world = _world(product_rates={"free": {"commission_rate_bp": 0, "invite_rate_bp": 0}})
    world.send("paid-O1", paid_fact("O1", "C", 10_000, paid_at=T0))
    world.send("paid-O2", paid_fact("O2", "C", 10_000, paid_at=T0, products=("free",)))  # rewards nobody
    assert world.totals("A")["paid_orders"] == 1
    assert world.totals("B")["paid_orders"] == 1  # the invite reward is a reward too
    world.send("refund-O1", _refund("O1", "R1", 10_000, T0 + DAY))
    world.send("paid-O1", paid_fact("O1", "C", 10_000, paid_at=T0))  # redelivered
    assert world.totals("A")["paid_orders"] == 1
    assert world.days("A")[_day(T0)]["paid_orders"] == 1


def test_received_amount_is_what_rewarded_orders_actually_paid_without_discounts_points_or_balance() -> None:
    world = _world()
    line = OrderLine(
        line_id="L0",
        product_id="p0",
        category_path=["服饰"],
        quantity=1,
        payable_fen=12_000,
        paid_fen=10_000,
        discount_fen=1_000,
        points_fen=500,
        balance_fen=500,
    )
    order = OrderPaid(
        order_id="O1",
        customer_id="C",
        store_id="s1",
        paid_at=T0,
        source=OrderSource(scene="share"),
        lines=[line],
    )
    world.send("paid-O1", order)
    assert world.totals("A")["received_fen"] == 10_000
    world.send("refund-O1", _refund("O1", "R1", 4_000, T0 + DAY))
    assert world.totals("A")["received_fen"] == 10_000  # counted at payment, never reduced


def test_deal_orders_count_once_completed_and_past_the_after_sales_window_fully_refunded_ones_excluded() -> (
    None
):
    world = _world()
    world.send("paid-O1", paid_fact("O1", "C", 10_000, paid_at=T0))
    world.send("paid-O2", paid_fact("O2", "C", 5_000, paid_at=T0))
    world.send("completed-O1", OrderCompleted(order_id="O1", completed_at=T0 + DAY), at=T0 + DAY)
    world.send("completed-O2", OrderCompleted(order_id="O2", completed_at=T0 + DAY))
    world.send("refund-O2", _refund("O2", "R2", 5_000, T0 + 2 * DAY), at=T0 + 2 * DAY)
    assert "deal_orders" not in world.totals("A")  # completed, but the window has not passed
    world.run_job(at=T0 + 8 * DAY - timedelta(minutes=1))
    assert "deal_orders" not in world.totals("A")
    world.run_job(at=T0 + 8 * DAY)
    assert world.totals("A")["deal_orders"] == 1  # O2 was fully refunded
    assert world.days("A")[_day(T0 + 8 * DAY)]["deal_orders"] == 1  # the day the window ended
    world.send("refund-O1", _refund("O1", "R1", 10_000, T0 + 9 * DAY), at=T0 + 9 * DAY)
    assert world.totals("A").get("deal_orders", 0) == 0  # fully refunded after the window: out


def test_deal_amount_is_what_was_paid_less_refunds_counted_once_past_the_after_sales_window() -> None:
    world = _world()
    world.send("paid-O1", paid_fact("O1", "C", 10_000, paid_at=T0))
    world.send("refund-O1-a", _refund("O1", "Ra", 3_000, T0 + DAY), at=T0 + DAY)
    world.send("completed-O1", OrderCompleted(order_id="O1", completed_at=T0 + DAY))
    world.run_job(at=T0 + 8 * DAY)
    assert world.totals("A")["deal_fen"] == 7_000
    assert world.totals("B")["deal_fen"] == 7_000  # B's invite reward came from it
    world.send("refund-O1-b", _refund("O1", "Rb", 2_000, T0 + 9 * DAY), at=T0 + 9 * DAY)
    assert world.totals("A")["deal_fen"] == 5_000
    assert world.days("A")[_day(T0 + 8 * DAY)]["deal_fen"] == 5_000  # taken off the day it counted on


def test_deal_figures_arrive_at_once_when_the_window_has_already_passed_at_completion() -> None:
    world = _world(after_sales_window_days=0)
    world.send("paid-O1", paid_fact("O1", "C", 10_000, paid_at=T0))
    world.send("completed-O1", OrderCompleted(order_id="O1", completed_at=T0 + DAY), at=T0 + DAY)
    assert world.totals("A")["deal_fen"] == 10_000


def test_consumption_amount_is_the_affiliates_own_purchases_paid_plus_points_plus_balance_at_payment() -> (
    None
):
    world = _world()
    early = paid_fact("O0", "A", 9_000, paid_at=T0 - DAY)  # before A joined: not an affiliate's purchase
    world.send("paid-O0", early)
    line = OrderLine(
        line_id="L0",
        product_id="p0",
        category_path=["服饰"],
        quantity=1,
        payable_fen=12_000,
        paid_fen=10_000,
        discount_fen=1_000,
        points_fen=600,
        balance_fen=400,
    )
    own = OrderPaid(
        order_id="O1",
        customer_id="A",
        store_id="s1",
        paid_at=T0 + DAY,
        source=OrderSource(scene="share"),
        lines=[line],
    )
    world.send("paid-O1", own, at=T0 + DAY)
    assert world.totals("A")["consumption_fen"] == 11_000
    assert "paid_orders" not in world.totals("A")  # self-purchase commission is off: no reward
    world.send("refund-O1", _refund("O1", "R1", 10_000, T0 + 2 * DAY), at=T0 + 2 * DAY)
    assert world.totals("A")["consumption_fen"] == 11_000  # counted at payment


def test_recharge_amount_is_what_the_affiliate_recharged_once_each() -> None:
    world = _world()
    recharge = RechargePaid(recharge_id="RC1", customer_id="A", amount_fen=5_000, paid_at=T0 + DAY)
    world.send("recharge-RC1", recharge)
    world.send("recharge-RC1", recharge)
    world.send("recharge-RC2", RechargePaid(recharge_id="RC2", customer_id="C", amount_fen=9_000, paid_at=T0))
    assert world.totals("A")["recharge_fen"] == 5_000
    assert world.totals("C") == {}  # C is no affiliate


def test_bought_given_products_count_at_payment_and_a_successful_after_sales_refund_reverts_them() -> None:
    world = _world()
    world.send("paid-O1", paid_fact("O1", "A", 5_000, 3_000, paid_at=T0 + DAY, products=("p1", "p2")))
    assert world.totals("A")["bought:p1"] == 1 and world.totals("A")["bought:p2"] == 1
    world.send("refund-O1-p1", _refund("O1", "R1", 1_000, T0 + 2 * DAY, line="L0"))  # part of p1: kept
    world.send("refund-O1-p2", _refund("O1", "R2", 3_000, T0 + 2 * DAY, line="L1"))  # all of p2: reverted
    assert world.totals("A")["bought:p1"] == 1
    assert world.totals("A").get("bought:p2", 0) == 0
    assert world.days("A")[_day(T0 + DAY)] == {"bought:p1": 1, "consumption_fen": 8_000}
