"""A refund or a completion of a decided order in two round trips (``affiliates.following``): the
same table as the general path (the aggregate, then ``follow_order``) leaves, in one batched read
and one transaction; a share that is behind falls back to the general path."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incentives.affiliates.program import ProgramSettings
from incentives.ledger.model import Bucket
from incentives.orders.aggregate import AfterSalesWindow, OrderFact
from incentives.orders.service import apply_order_event
from incentives.storage.affiliates import store
from incentives.storage.affiliates.earnings import (
    AffiliateEffects,
    apply_order_change,
    apply_payment,
    follow_order,
)
from incentives.storage.affiliates.membership import ApplicationInput, submit_application
from incentives.storage.affiliates.referrals import bind
from incentives.storage.affiliates.store import account
from incentives.storage.ledger import LedgerRepository
from incentives.storage.memory_table import MemoryTable
from incentives.storage.orders import TableOrderRepository
from incentives.storage.table import Key, Write
from incentives.webhook.models import OrderCompleted, OrderRefunded, OrderSource, ReferralClicked, RefundLine
from tests.support import paid_fact

CORP = "ww-unit"
T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
WINDOW = AfterSalesWindow(7)


class CountingTable(MemoryTable):
    """The in-memory table, counting round trips as DynamoDB would bill them."""

    def __init__(self) -> None:
        super().__init__()
        self.trips = 0

    def get(self, key: Key) -> Any:
        self.trips += 1
        return super().get(key)

    def get_many(self, keys: Sequence[Key]) -> list[Any]:
        self.trips += 1
        return [MemoryTable.get(self, key) for key in keys]

    def transact(self, writes: Sequence[Write]) -> None:
        self.trips += 1
        super().transact(writes)


def _world() -> tuple[CountingTable, AffiliateEffects]:
    """A paid order of customer C, bound to A, whose upline is B: a commission and an invite share."""
    table = CountingTable()
    settings = {
        "promotion_enabled": True,
        "invitation_image_url": "https://img.example.com/invite.png",
        "commission_rate_bp": 1000,
        "invite_rate_bp": 500,
        "application": {"review": "auto"},
    }
    store.save_settings(table, CORP, ProgramSettings.model_validate(settings), T0)
    submit_application(table, CORP, "B", ApplicationInput(openid="openid-B"), T0)
    submit_application(table, CORP, "A", ApplicationInput(openid="openid-A", invited_by="B"), T0)
    click = ReferralClicked(customer_id="C", affiliate_id="A", clicked_at=T0 - timedelta(hours=1))
    bind(table, CORP, "click-C", click, T0)
    effects = AffiliateEffects(table, LedgerRepository(table), "Asia/Shanghai")
    apply_payment(effects, CORP, "paid-1", paid_fact("O-1", "C", 6_000, 4_000, paid_at=T0), WINDOW, T0)
    return table, effects


def _refund(refund_id: str, fen: int, at: datetime) -> OrderRefunded:
    return OrderRefunded(
        order_id="O-1", refund_id=refund_id, refunded_at=at, lines=[RefundLine(line_id="L1", refund_fen=fen)]
    )


EVENTS: list[tuple[str, OrderFact]] = [
    ("refund-1", _refund("R1", 1_500, T0 + timedelta(hours=1))),
    ("done-1", OrderCompleted(order_id="O-1", completed_at=T0 + timedelta(days=1))),
    ("refund-2", _refund("R2", 1_000, T0 + timedelta(days=2))),
]


def _general(effects: AffiliateEffects, event_id: str, fact: OrderFact, now: datetime) -> None:
    state = apply_order_event(TableOrderRepository(effects.table), CORP, event_id, fact, WINDOW)
    follow_order(effects, CORP, state, now)


def _contents(table: MemoryTable) -> dict[tuple[str, str], Any]:
    return {key: item for key, item in table.items.items()}


def test_each_refund_and_the_completion_take_one_read_and_one_transaction() -> None:
    table, effects = _world()
    for event_id, fact in EVENTS:
        before = table.trips
        apply_order_change(effects, CORP, event_id, fact, WINDOW, T0 + timedelta(days=3))
        assert table.trips - before == 2, event_id
    assert effects.ledger.balance(account(CORP, "A"))[Bucket.PENDING] == 1_000 - 250
    assert effects.ledger.balance(account(CORP, "B"))[Bucket.PENDING] == 500 - 125


def test_the_two_round_trip_path_leaves_what_the_general_path_leaves() -> None:
    fast, fast_effects = _world()
    slow, slow_effects = _world()
    now = T0 + timedelta(days=3)
    for event_id, fact in EVENTS:
        apply_order_change(fast_effects, CORP, event_id, fact, WINDOW, now)
        _general(slow_effects, event_id, fact, now)
    assert _contents(fast) == _contents(slow)


def test_a_redelivered_refund_changes_nothing() -> None:
    table, effects = _world()
    event_id, fact = EVENTS[0]
    apply_order_change(effects, CORP, event_id, fact, WINDOW, T0)
    once = _contents(table)
    apply_order_change(effects, CORP, event_id, fact, WINDOW, T0)
    assert _contents(table) == once


def test_a_share_behind_on_a_refund_is_caught_up_by_the_general_path() -> None:
    """The order took a refund whose commissions were never followed (a crash in between): the
    completion brings both in."""
    table, effects = _world()
    apply_order_event(TableOrderRepository(table), CORP, *EVENTS[0], WINDOW)
    apply_order_change(effects, CORP, *EVENTS[1], WINDOW, T0 + timedelta(days=1))
    share = table.get({"pk": f"T#{CORP}#AFF_ORDER#O-1", "sk": "SHARE#commission"})
    assert share is not None and set(share["refunds"]) == {"R1"} and share["completed_at"] is not None
    assert effects.ledger.balance(account(CORP, "A"))[Bucket.REVERSED] == 150


def test_a_refund_planned_from_nobody_s_decision_does_not_land_after_a_late_click_attributed_the_order(
    monkeypatch: Any,
) -> None:
    """The refund's fast path read the decision that attributed the order to nobody; before its
    transaction, a late click replaced the decision, created the shares and followed the order
    (without the refund, not saved yet). The refund's transaction is refused by the decision's
    guard and the general path brings the new shares in line: nothing is left pending forever."""
    from incentives.storage.affiliates.earnings import attribute_late_click
    from incentives.storage.affiliates.repository import TableAffiliates

    table = CountingTable()
    settings = {
        "promotion_enabled": True,
        "invitation_image_url": "https://img.example.com/invite.png",
        "commission_rate_bp": 1000,
        "application": {"review": "auto"},
    }
    store.save_settings(table, CORP, ProgramSettings.model_validate(settings), T0)
    submit_application(table, CORP, "A", ApplicationInput(openid="openid-A"), T0)
    effects = AffiliateEffects(table, LedgerRepository(table), "Asia/Shanghai")
    apply_payment(effects, CORP, "paid-1", paid_fact("O-1", "C", 6_000, 4_000, paid_at=T0), WINDOW, T0)
    late = ReferralClicked(customer_id="C", affiliate_id="A", clicked_at=T0 - timedelta(minutes=5))
    original = TableAffiliates.commit
    raced: list[bool] = []

    def commit(self: TableAffiliates, corp_id: str, changes: Sequence[Any]) -> None:
        if not raced and any(type(change).__name__ == "OrderSaved" for change in changes):
            raced.append(True)  # the late click wins the race, just before the refund commits
            bind(table, CORP, "click-late", late, T0 + timedelta(hours=2))
            assert attribute_late_click(effects, CORP, "C", late.clicked_at, T0 + timedelta(hours=2)) == [
                "O-1"
            ]
        original(self, corp_id, changes)

    monkeypatch.setattr(TableAffiliates, "commit", commit)
    apply_order_change(effects, CORP, "refund-1", _refund("R1", 1_500, T0 + timedelta(hours=1)), WINDOW, T0)
    assert raced
    balance = effects.ledger.balance(account(CORP, "A"))
    assert (balance[Bucket.EARNED], balance[Bucket.REVERSED]) == (1_000, 150), balance


def test_a_basket_too_large_to_join_the_payment_records_its_products_first_in_one_transaction() -> None:
    """95 products: one transaction of markers, then the payment's own (not a transaction over
    DynamoDB's 100 items that falls back to the general path, nor one per 25 products)."""
    table, effects = _world()
    click = ReferralClicked(customer_id="D", affiliate_id="A", clicked_at=T0 - timedelta(hours=1))
    bind(table, CORP, "click-D", click, T0)
    products = tuple(f"p{n:03d}" for n in range(95))
    basket = paid_fact("O-2", "D", *[100] * len(products), paid_at=T0, products=products)
    before = table.trips
    apply_payment(effects, CORP, "paid-2", basket, WINDOW, T0)
    assert table.trips - before == 4  # two batched reads, the markers, the payment
    assert effects.ledger.balance(account(CORP, "A"))[Bucket.PENDING] == 1_000 + 950
    bought = [key for key in table.items if "D" in key[0] and "p0" in key[1]]
    assert len(bought) == len(products), bought[:3]


@pytest.mark.parametrize(("source", "trips", "credited"), [("X", 2, 0), ("A", 3, 1_000)])
def test_an_order_through_a_link_is_read_twice_only_when_the_links_owner_is_an_affiliate(
    source: str, trips: int, credited: int
) -> None:
    """Nobody bound: the link's owner, read with the context, earns if an active affiliate (then
    their standing is read); a link of somebody who is not one reads nothing more."""
    table, effects = _world()
    order = paid_fact("O-3", "E", 10_000, paid_at=T0)
    order = order.model_copy(update={"source": OrderSource(scene="share", affiliate_id=source)})
    pending = effects.ledger.balance(account(CORP, "A"))[Bucket.PENDING]
    before = table.trips
    apply_payment(effects, CORP, "paid-3", order, WINDOW, T0)
    assert table.trips - before == trips
    assert effects.ledger.balance(account(CORP, "A"))[Bucket.PENDING] - pending == credited
