"""The after-sales window's closing is applied to the order alone: one read and one write, and the
commissions dated at completion still settle once the window has passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incentives.affiliates.commission import account
from incentives.events.consumers import EventPorts, build_consumers
from incentives.events.dispatch import apply_queued_event
from incentives.ledger.model import Bucket
from incentives.ledger.service import settle_holds_past
from incentives.messages.queued import QueuedEvent
from incentives.orders.aggregate import AfterSalesWindow
from incentives.storage.ledger import LedgerRepository
from incentives.storage.orders import TableOrderRepository
from incentives.storage.payouts import PayoutRepository
from incentives.webhook.models import OrderCompleted, ReferralClicked
from tests.support import paid_fact
from tests.support.fanout import CountingTable
from tests.support.levels import CORP, TZ, LevelWorld

T0 = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)


def _closed_event(at: datetime) -> QueuedEvent:
    return QueuedEvent.model_validate(
        {
            "corp_id": CORP,
            "received_at": at,
            "event": {
                "event_id": "after-sales-window-closed:O-1",
                "type": "order.after_sales_window_closed",
                "occurred_at": at,
                "data": {"order_id": "O-1", "closed_at": at},
            },
        }
    )


def test_closing_the_window_of_a_commissioned_order_reads_once_and_writes_once() -> None:
    world = LevelWorld.create(T0)
    world.join("B")
    world.join("A", invited_by="B")
    click = ReferralClicked(customer_id="C", affiliate_id="A", clicked_at=T0 - timedelta(hours=1))
    world.send("click", click)
    world.send("paid", paid_fact("O-1", "C", 10_000, paid_at=T0))
    completed_at = T0 + timedelta(days=1)
    world.send("completed", OrderCompleted(order_id="O-1", completed_at=completed_at), at=completed_at)
    pending = LedgerRepository(world.table).balance(account(CORP, "A"))[Bucket.PENDING]
    assert pending > 0  # A earned a commission, held until the window passes

    closes_at = completed_at + timedelta(days=7)
    world.clock.instant = closes_at
    counting = CountingTable(world.table)
    ports = EventPorts(
        table=counting,
        ledger=LedgerRepository(counting),
        orders=TableOrderRepository(counting),
        payouts=PayoutRepository(counting),
        payout_queue=None,  # type: ignore[arg-type]  # nothing is paid out here
        emit=lambda events: None,
        wecom_client=lambda corp: None,
        clock=world.clock,
        time_zone=TZ,
        window=AfterSalesWindow(7),
    )
    consumers = build_consumers(ports)
    outcome = apply_queued_event(_closed_event(closes_at), consumers)
    assert outcome.consumer == "orders" and "closed" in outcome.detail
    assert (counting.calls.reads, counting.calls.writes) == (1, 1)
    apply_queued_event(_closed_event(closes_at), consumers)  # a redelivery: read, nothing written
    assert counting.calls.writes == 1

    ledger = LedgerRepository(world.table)
    settle_holds_past(ledger, closes_at)
    balance = ledger.balance(account(CORP, "A"))
    assert balance[Bucket.SETTLED] == pending and balance[Bucket.PENDING] == 0
