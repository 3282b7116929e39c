"""Commissions through an order's life on the atomic in-memory table: the edges found in review
(large baskets, late joiners, refunds racing the settlement, fully refunded shares)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incentives.affiliates.program import ProgramSettings
from incentives.ledger.model import Bucket
from incentives.ledger.service import settle_holds_past
from incentives.orders.aggregate import AfterSalesWindow
from incentives.orders.service import apply_order_event
from incentives.storage.affiliates import store
from incentives.storage.affiliates.center import commission_records
from incentives.storage.affiliates.earnings import AffiliateEffects, apply_payment, follow_order
from incentives.storage.affiliates.membership import ApplicationInput, submit_application
from incentives.storage.affiliates.referrals import bind
from incentives.storage.affiliates.store import account
from incentives.storage.ledger import LedgerRepository
from incentives.storage.memory_table import MemoryTable
from incentives.storage.orders import TableOrderRepository
from incentives.webhook.models import (
    OrderCompleted,
    OrderPaid,
    OrderRefunded,
    OrderSource,
    ReferralClicked,
    RefundLine,
)
from tests.support import paid_fact

CORP = "ww-unit"
T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
WINDOW = AfterSalesWindow(7)


def _program(**changes: object) -> tuple[MemoryTable, AffiliateEffects]:
    table = MemoryTable()
    settings = {
        "promotion_enabled": True,
        "invitation_image_url": "https://img.example.com/invite.png",
        "commission_rate_bp": 1000,
        "invite_rate_bp": 500,
        "application": {"review": "auto"},
        **changes,
    }
    store.save_settings(table, CORP, ProgramSettings.model_validate(settings), T0)
    return table, AffiliateEffects(table, LedgerRepository(table), "Asia/Shanghai")


def _join(table: MemoryTable, who: str, at: datetime = T0) -> None:
    submit_application(table, CORP, who, ApplicationInput(openid=f"openid-{who}"), at)


def _paid(order_id: str, customer: str, *paid: int, products: int = 0, at: datetime = T0) -> OrderPaid:
    names = tuple(f"p{n}" for n in range(len(paid))) if products else ()
    return paid_fact(order_id, customer, *paid, paid_at=at, products=names)


def _bound(table: MemoryTable, customer: str, affiliate: str) -> None:
    """``customer`` clicked ``affiliate``'s link an hour before T0."""
    click = ReferralClicked(customer_id=customer, affiliate_id=affiliate, clicked_at=T0 - timedelta(hours=1))
    bind(table, CORP, f"click-{customer}-{affiliate}", click, T0)


def _follow(
    effects: AffiliateEffects, event_id: str, fact: OrderRefunded | OrderCompleted, now: datetime
) -> None:
    state = apply_order_event(TableOrderRepository(effects.table), CORP, event_id, fact, WINDOW)
    follow_order(effects, CORP, state, now)


def test_an_order_of_many_distinct_products_is_decided_and_counted_once() -> None:
    table, effects = _program()
    _join(table, "A")
    _bound(table, "C", "A")
    big = _paid("O-big", "C", *([100] * 130), products=1)
    state, _ = apply_payment(effects, CORP, "paid-big", big, WINDOW, T0)
    apply_payment(effects, CORP, "paid-big", big, WINDOW, T0)  # redelivered
    assert state.paid == big
    assert effects.ledger.balance(account(CORP, "A"))[Bucket.EARNED] == 130 * 10
    activity = table.get(store.activity_key(CORP, "C"))
    assert (
        activity is not None and activity["consumption_count"] == 1 and activity["consumption_fen"] == 13_000
    )
    assert sum(1 for key in table.items if key[1].startswith("BOUGHT#")) == 130


def test_a_customer_who_joined_after_paying_is_not_a_self_purchaser_of_that_order() -> None:
    table, effects = _program()
    _join(table, "A")
    _bound(table, "C", "A")
    _join(table, "C", at=T0 + timedelta(minutes=5))  # C paid at T0, joined at T0 + 5 min
    apply_payment(effects, CORP, "paid-1", _paid("O-1", "C", 10_000), WINDOW, T0 + timedelta(minutes=6))
    assert effects.ledger.balance(account(CORP, "A"))[Bucket.EARNED] == 1_000
    assert effects.ledger.balance(account(CORP, "C"))[Bucket.EARNED] == 0


def test_a_refund_racing_the_settlement_job_loses_nothing_and_stops_nothing() -> None:
    table, effects = _program(after_sales_window_days=0)
    for who in ("A", "B"):
        _join(table, who)
    for customer, affiliate in (("C1", "A"), ("C2", "B")):
        click = ReferralClicked(
            customer_id=customer, affiliate_id=affiliate, clicked_at=T0 - timedelta(hours=1)
        )
        bind(table, CORP, f"click-{customer}", click, T0)
        apply_payment(effects, CORP, f"paid-{customer}", _paid(f"O-{customer}", customer, 10_000), WINDOW, T0)
        _follow(effects, f"done-{customer}", OrderCompleted(order_id=f"O-{customer}", completed_at=T0), T0)
    ledger = effects.ledger
    due = ledger.holds_due(T0 + timedelta(hours=1))
    assert len(due) == 2
    refund = OrderRefunded(
        order_id="O-C1", refund_id="R1", refunded_at=T0, lines=[RefundLine(line_id="L0", refund_fen=3_000)]
    )
    _follow(effects, "refund-R1", refund, T0)  # lands between the job's read and its writes

    class Stale(LedgerRepository):
        def holds_due(self, now: datetime, limit: int = 1000) -> list:  # type: ignore[override, type-arg]
            return due

    assert settle_holds_past(Stale(table), T0 + timedelta(hours=1)) == 1  # the other hold still settled
    assert settle_holds_past(ledger, T0 + timedelta(hours=2)) == 1  # the changed one on the next run
    a, b = ledger.balance(account(CORP, "A")), ledger.balance(account(CORP, "B"))
    assert (a[Bucket.SETTLED], a[Bucket.REVERSED], b[Bucket.SETTLED]) == (700, 300, 1_000)
    assert a.violations() == [] and b.violations() == []


def test_a_fully_refunded_share_stays_refunded_after_its_window() -> None:
    table, effects = _program(after_sales_window_days=0)
    _join(table, "A")
    _bound(table, "C", "A")
    apply_payment(effects, CORP, "paid-1", _paid("O-1", "C", 10_000), WINDOW, T0)
    full = OrderRefunded(
        order_id="O-1", refund_id="R1", refunded_at=T0, lines=[RefundLine(line_id="L0", refund_fen=10_000)]
    )
    _follow(effects, "refund-R1", full, T0)
    _follow(effects, "done-1", OrderCompleted(order_id="O-1", completed_at=T0), T0)
    settle_holds_past(effects.ledger, T0 + timedelta(hours=1))
    [record] = commission_records(table, CORP, beneficiary_id="A")
    assert record.state == "refunded" and record.net_fen == 0


def test_a_second_payment_of_the_same_order_under_another_event_id_changes_nothing() -> None:
    table, effects = _program()
    _join(table, "A")
    _bound(table, "C", "A")
    apply_payment(effects, CORP, "paid-1", _paid("O-1", "C", 10_000), WINDOW, T0)
    apply_payment(effects, CORP, "paid-1-again", _paid("O-1", "C", 99_000), WINDOW, T0)
    assert effects.ledger.balance(account(CORP, "A"))[Bucket.EARNED] == 1_000


def test_a_click_from_before_the_payment_that_arrives_after_it_still_attributes_the_order() -> None:
    from incentives.storage.affiliates.earnings import attribute_late_click

    table, effects = _program()
    _join(table, "A")
    apply_payment(effects, CORP, "paid-1", _paid("O-1", "C", 10_000, at=T0), WINDOW, T0)
    refund = OrderRefunded(
        order_id="O-1", refund_id="R1", refunded_at=T0, lines=[RefundLine(line_id="L0", refund_fen=2_000)]
    )
    _follow(effects, "refund-R1", refund, T0)
    assert effects.ledger.balance(account(CORP, "A"))[Bucket.EARNED] == 0  # nobody bound yet
    click = ReferralClicked(customer_id="C", affiliate_id="A", clicked_at=T0 - timedelta(minutes=5))
    bind(table, CORP, "c-late", click, T0 + timedelta(minutes=1))
    assert attribute_late_click(effects, CORP, "C", click.clicked_at, T0 + timedelta(minutes=1)) == ["O-1"]
    assert attribute_late_click(effects, CORP, "C", click.clicked_at, T0 + timedelta(minutes=2)) == []  # once
    balance = effects.ledger.balance(account(CORP, "A"))
    assert (balance[Bucket.EARNED], balance[Bucket.REVERSED], balance[Bucket.PENDING]) == (1_000, 200, 800)


def test_a_late_click_cut_short_after_attributing_follows_the_order_when_redelivered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The late decision commits, then the process dies before the refund that came meanwhile is
    followed: the redelivered click finds nothing unattributed, and still follows the order."""
    from incentives.affiliates import late_clicks
    from incentives.storage.affiliates.earnings import attribute_late_click

    table, effects = _program()
    _join(table, "A")
    apply_payment(effects, CORP, "paid-1", _paid("O-1", "C", 10_000, at=T0), WINDOW, T0)
    refund = OrderRefunded(
        order_id="O-1", refund_id="R1", refunded_at=T0, lines=[RefundLine(line_id="L0", refund_fen=2_000)]
    )
    _follow(effects, "refund-R1", refund, T0)
    click = ReferralClicked(customer_id="C", affiliate_id="A", clicked_at=T0 - timedelta(minutes=5))
    bind(table, CORP, "c-late", click, T0 + timedelta(minutes=1))

    def crash(*_: object) -> None:
        raise RuntimeError("the container died")

    with monkeypatch.context() as patched:
        patched.setattr(late_clicks, "follow_order", crash)
        with pytest.raises(RuntimeError):
            attribute_late_click(effects, CORP, "C", click.clicked_at, T0 + timedelta(minutes=1))
    balance = effects.ledger.balance(account(CORP, "A"))
    assert (balance[Bucket.EARNED], balance[Bucket.REVERSED]) == (1_000, 0)  # attributed, refund not followed
    assert attribute_late_click(effects, CORP, "C", click.clicked_at, T0 + timedelta(minutes=2)) == []
    assert (
        attribute_late_click(effects, CORP, "C", click.clicked_at, T0 + timedelta(minutes=3)) == []
    )  # again
    balance = effects.ledger.balance(account(CORP, "A"))
    assert (balance[Bucket.EARNED], balance[Bucket.REVERSED], balance[Bucket.PENDING]) == (1_000, 200, 800)


def test_a_click_after_the_payment_does_not_attribute_it() -> None:
    from incentives.storage.affiliates.earnings import attribute_late_click

    table, effects = _program()
    _join(table, "A")
    apply_payment(effects, CORP, "paid-1", _paid("O-1", "C", 10_000, at=T0), WINDOW, T0)
    click = ReferralClicked(customer_id="C", affiliate_id="A", clicked_at=T0 + timedelta(minutes=5))
    bind(table, CORP, "c-after", click, T0 + timedelta(minutes=6))
    assert attribute_late_click(effects, CORP, "C", click.clicked_at, T0 + timedelta(minutes=6)) == []
    assert effects.ledger.balance(account(CORP, "A"))[Bucket.EARNED] == 0


def test_with_nobody_bound_the_link_the_order_came_through_attributes_it() -> None:
    table, effects = _program()
    _join(table, "A")
    order = _paid("O-1", "C", 10_000).model_copy(
        update={"source": OrderSource(scene="share", affiliate_id="A")}
    )
    apply_payment(effects, CORP, "paid-1", order, WINDOW, T0)
    assert effects.ledger.balance(account(CORP, "A"))[Bucket.EARNED] == 1_000
