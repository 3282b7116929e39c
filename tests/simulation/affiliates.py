"""The affiliate side of the simulation: clicks, orders paid / refunded / completed in any
order and more than once, settlement, withdrawals reviewed and settled, under table faults.

The real services run over the world's in-memory table, orders included, through the same
paths as the event processor (``order.paid`` in one transaction, the rest after the aggregate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from incentives.affiliates import store, withdrawals
from incentives.affiliates.commission import taken_back
from incentives.affiliates.earnings import (
    AffiliateEffects,
    account,
    apply_payment,
    attribute_late_click,
    follow_order,
    share_lines,
)
from incentives.affiliates.membership import ApplicationInput, submit_application
from incentives.affiliates.program import ProgramSettings
from incentives.affiliates.referrals import bind
from incentives.affiliates.withdrawals import (
    Approval,
    ManualSettlement,
    Rejection,
    Settlement,
    WithdrawalInput,
)
from incentives.core.errors import Conflict, InvalidInput
from incentives.core.money import apply_rate
from incentives.ledger.model import EntryKind
from incentives.orders.aggregate import AfterSalesWindow, OrderFact
from incentives.orders.service import apply_order_event
from incentives.storage.ledger import InsufficientBalance
from incentives.storage.orders import TableOrderRepository
from incentives.webhook.models import (
    OrderCompleted,
    OrderLine,
    OrderPaid,
    OrderRefunded,
    OrderSource,
    ReferralClicked,
    RefundLine,
)

if TYPE_CHECKING:
    from tests.simulation.world import World

AFFILIATES = ("aff-A", "aff-B", "aff-C")
"""aff-B invited aff-A; aff-C invited aff-B (so aff-A's upline is aff-B)."""
CUSTOMERS = ("cust-1", "cust-2", "cust-3", "aff-A")


@dataclass
class AffiliateSide:
    orders: TableOrderRepository
    settings: ProgramSettings
    events: list[tuple[str, OrderFact]] = field(default_factory=list)
    planned: dict[str, OrderPaid] = field(default_factory=dict)
    refunded: dict[str, dict[str, int]] = field(default_factory=dict)
    withdrawal_ids: list[tuple[str, str]] = field(default_factory=list)


def setup(world: World) -> AffiliateSide:
    rng = world.rng
    settings = ProgramSettings.model_validate(
        {
            "promotion_enabled": True,
            "invitation_image_url": "https://img.example.com/invite.png",
            "commission_rate_bp": rng.choice([0, 333, 500, 1000]),
            "invite_rate_bp": rng.choice([0, 100, 250]),
            "product_rates": {"sku-2": {"commission_rate_bp": rng.choice([0, 1500])}},
            "self_purchase_commission": rng.random() < 0.5,
            "binding_mode": rng.choice(["permanent", "override"]),
            "withdrawal_threshold_fen": 100,
            "after_sales_window_days": rng.choice([0, 7]),
            "application": {"mode": "apply", "review": "auto", "match": "none"},
        }
    )
    store.save_settings(world.table, world.corp, settings, world.now)
    for affiliate, upline in (("aff-C", None), ("aff-B", "aff-C"), ("aff-A", "aff-B")):
        submit_application(
            world.table,
            world.corp,
            affiliate,
            ApplicationInput(answers={}, openid=f"openid-{affiliate}", invited_by=upline),
            world.now,
        )
    world.accounts += [account(world.corp, affiliate) for affiliate in AFFILIATES]
    return AffiliateSide(TableOrderRepository(world.table), settings)


def effects(world: World) -> AffiliateEffects:
    return AffiliateEffects(world.table, world.ledger, "Asia/Shanghai")


def deliver(world: World, event_id: str, fact: OrderFact) -> str:
    """What the event processor does with an order event: the aggregate, then the commissions."""
    side = world.affiliates
    world._maybe_fault_table()
    try:
        if isinstance(fact, OrderPaid):
            return apply_payment(effects(world), world.corp, event_id, fact, AfterSalesWindow(7), world.now)[
                1
            ]
        state = apply_order_event(side.orders, world.corp, event_id, fact, AfterSalesWindow(7))
        world._maybe_fault_table()
        return follow_order(effects(world), world.corp, state, world.now)
    except Exception as fault:
        if type(fault).__name__ not in ("Throttled", "CrashedAfterWrite", "ConcurrentModification"):
            raise
        return f"{event_id} interrupted ({type(fault).__name__}), will be redelivered"


def click(world: World) -> str:
    customer, affiliate = world.rng.choice(CUSTOMERS), world.rng.choice(AFFILIATES)
    late = timedelta(hours=world.rng.choice([0, 0, 0, 2, 72]))  # some clicks arrive after the payment
    fact = ReferralClicked(customer_id=customer, affiliate_id=affiliate, clicked_at=world.now - late)
    world._maybe_fault_table()
    try:
        bound = bind(world.table, world.corp, world._id("click-"), fact, world.now)
        late = attribute_late_click(effects(world), world.corp, customer, fact.clicked_at, world.now)
        return bound + (f"; attributed late {late}" if late else "")
    except Exception as fault:
        if type(fault).__name__ not in ("Throttled", "CrashedAfterWrite", "ConcurrentModification"):
            raise
        return f"click interrupted ({type(fault).__name__})"


def pay(world: World) -> str:
    side, rng = world.affiliates, world.rng
    order_id = world._id("SO-")
    lines = [
        OrderLine(
            line_id=f"L{n}",
            product_id=rng.choice(["sku-1", "sku-2"]),
            category_path=["服饰"],
            quantity=1,
            payable_fen=(paid := rng.randint(1, 50_000)) + 100,
            paid_fen=paid,
            discount_fen=100,
            points_fen=0,
            balance_fen=0,
        )
        for n in range(rng.randint(1, 3))
    ]
    order = OrderPaid(
        order_id=order_id,
        customer_id=rng.choice(CUSTOMERS),
        store_id="store-1",
        paid_at=world.now,
        source=OrderSource(scene="share"),
        lines=lines,
    )
    side.planned[order_id] = order
    side.refunded[order_id] = {}
    if rng.random() < 0.2:
        return f"order {order_id} planned; its payment will come late"
    side.events.append((f"paid-{order_id}", order))
    return f"paid {order_id}: " + deliver(world, f"paid-{order_id}", order)


def refund(world: World) -> str:
    side, rng = world.affiliates, world.rng
    if not side.planned:
        return "refund: no orders"
    order = side.planned[rng.choice(sorted(side.planned))]
    line = rng.choice(order.lines)
    left = line.paid_fen - side.refunded[order.order_id].get(line.line_id, 0)
    if left <= 0:
        return f"refund {order.order_id}: line {line.line_id} fully refunded"
    fen = left if rng.random() < 0.3 else rng.randint(1, left)
    side.refunded[order.order_id][line.line_id] = side.refunded[order.order_id].get(line.line_id, 0) + fen
    fact = OrderRefunded(
        order_id=order.order_id,
        refund_id=world._id("R"),
        refunded_at=world.now,
        lines=[RefundLine(line_id=line.line_id, refund_fen=fen)],
    )
    side.events.append((f"refund-{fact.refund_id}", fact))
    return f"refund {fen} of {order.order_id}: " + deliver(world, f"refund-{fact.refund_id}", fact)


def complete(world: World) -> str:
    side = world.affiliates
    if not side.planned:
        return "complete: no orders"
    order_id = world.rng.choice(sorted(side.planned))
    fact = OrderCompleted(order_id=order_id, completed_at=world.now)
    side.events.append((f"completed-{order_id}", fact))
    return f"complete {order_id}: " + deliver(world, f"completed-{order_id}", fact)


def redeliver(world: World) -> str:
    side = world.affiliates
    late = [order for order in side.planned.values() if (f"paid-{order.order_id}", order) not in side.events]
    if late and world.rng.random() < 0.5:
        order = late[0]
        side.events.append((f"paid-{order.order_id}", order))
        return f"late payment {order.order_id}: " + deliver(world, f"paid-{order.order_id}", order)
    if not side.events:
        return "redeliver: nothing sent yet"
    event_id, fact = world.rng.choice(side.events)
    return f"redelivered {event_id}: " + deliver(world, event_id, fact)


def withdraw(world: World) -> str:
    side, rng = world.affiliates, world.rng
    affiliate = rng.choice(AFFILIATES)
    withdrawable = world.ledger.balance(account(world.corp, affiliate)).withdrawable
    amount = rng.randint(1, max(1, withdrawable + 200))
    request_id = rng.choice([f"r{world.counter}", "r-repeat"])
    world._maybe_fault_table()
    try:
        item = withdrawals.request(
            world.table,
            world.ledger,
            world.corp,
            affiliate,
            WithdrawalInput(amount_fen=amount, request_id=request_id),
            world.now,
        )
    except (InsufficientBalance, InvalidInput, Conflict) as refused:
        return f"withdrawal of {amount} by {affiliate} refused: {refused.message}"
    except Exception as fault:
        if type(fault).__name__ not in ("Throttled", "CrashedAfterWrite"):
            raise
        return f"withdrawal by {affiliate} interrupted ({type(fault).__name__})"
    side.withdrawal_ids.append((affiliate, item["withdrawal_id"]))
    return f"withdrawal {item['withdrawal_id']} of {item['amount_fen']} by {affiliate}"


def review(world: World) -> str:
    side, rng = world.affiliates, world.rng
    if not side.withdrawal_ids:
        return "review: no withdrawals"
    _, withdrawal_id = rng.choice(side.withdrawal_ids)
    world._maybe_fault_table()
    try:
        item = withdrawals.get(world.table, world.corp, withdrawal_id)
        if item["status"] == "pending_review" and rng.random() < 0.3:
            withdrawals.reject(
                world.table, world.corp, withdrawal_id, Rejection(reason="sim"), "ops", world.now
            )
            return f"rejected {withdrawal_id}"
        if item["status"] == "pending_review":
            withdrawals.approve(
                world.table,
                world.queue,
                world.corp,
                withdrawal_id,
                Approval(settlement=Settlement.MANUAL),
                "ops",
                world.now,
            )
            return f"approved {withdrawal_id}"
        withdrawals.settle_manually(
            world.table,
            world.corp,
            withdrawal_id,
            ManualSettlement(reference=f"ref-{withdrawal_id}"),
            "ops",
            world.now,
        )
        return f"settled {withdrawal_id} manually"
    except Conflict as conflict:
        return f"review {withdrawal_id}: {conflict.message}"
    except Exception as fault:
        if type(fault).__name__ not in ("Throttled", "CrashedAfterWrite"):
            raise
        return f"review {withdrawal_id} interrupted ({type(fault).__name__})"


def drain(world: World) -> None:
    """Every order event once more (payments that never came included), no faults."""
    side = world.affiliates
    for order in side.planned.values():
        if (f"paid-{order.order_id}", order) not in side.events:
            side.events.append((f"paid-{order.order_id}", order))
    for event_id, fact in list(side.events):
        if isinstance(fact, OrderPaid):
            apply_payment(effects(world), world.corp, event_id, fact, AfterSalesWindow(7), world.now)
            continue
        state = apply_order_event(side.orders, world.corp, event_id, fact, AfterSalesWindow(7))
        follow_order(effects(world), world.corp, state, world.now)


# --- invariants ----------------------------------------------------------------------------------


def commission_invariants(world: World) -> list[str]:
    """Each line's commission computed once and right; what was taken back never exceeds it."""
    problems = []
    settings = world.affiliates.settings
    credits: dict[str, int] = {}
    for affiliate in AFFILIATES:
        for entry in world.ledger.entries(account(world.corp, affiliate)):
            if entry.kind is EntryKind.CREDIT and entry.entry_id.startswith("aff:"):
                credits[entry.entry_id] = credits.get(entry.entry_id, 0) + 1
    problems += [f"{credit} credited {count} times" for credit, count in credits.items() if count > 1]
    for item in world.table.items.values():
        if item.get("kind") != "commission_share":
            continue
        lines = share_lines(item)
        taken = int(item["reversed_fen"]) + int(item["clawed_back_fen"])
        if taken > int(item["amount_fen"]):
            problems.append(f"{item['order_id']}/{item['role']}: took back {taken} of {item['amount_fen']}")
        if sum(line.amount_fen for line in lines) != int(item["amount_fen"]):
            problems.append(f"{item['order_id']}/{item['role']}: lines do not add up")
        for line in lines:
            if line.amount_fen != apply_rate(line.base_fen, line.rate_bp):
                problems.append(f"{item['order_id']}/{line.line_id}: {line.amount_fen} is not base × rate")
        order = world.affiliates.planned[item["order_id"]]
        if (
            item["role"] == "commission"
            and order.customer_id in AFFILIATES
            and not settings.self_purchase_commission
        ):
            problems.append(f"{item['order_id']}: self-purchase earned a commission")
    return problems


def withdrawal_invariants(world: World) -> list[str]:
    """Withdrawals never take more than was settled; every reserve is released or paid at most once."""
    problems = []
    for affiliate in AFFILIATES:
        entries = world.ledger.entries(account(world.corp, affiliate))
        settled = sum(e.amount_fen for e in entries if e.kind in (EntryKind.SETTLEMENT, EntryKind.RELEASE))
        reserves = sum(e.amount_fen for e in entries if e.kind is EntryKind.RESERVE)
        if reserves > settled:
            problems.append(f"{affiliate}: reserved {reserves} but only {settled} ever became withdrawable")
    return problems


def settled_commissions(world: World) -> list[str]:
    """After the drain: every share gave back exactly its pro-rata part of the order's refunds."""
    problems = []
    for item in world.table.items.values():
        if item.get("kind") != "commission_share":
            continue
        state = world.affiliates.orders.get(world.corp, item["order_id"])
        assert state is not None
        expected = taken_back(share_lines(item), state.refunded_fen_by_line())
        taken = int(item["reversed_fen"]) + int(item["clawed_back_fen"])
        if taken != expected:
            problems.append(
                f"{item['order_id']}/{item['role']}: took back {taken}, the refunds make {expected}"
            )
    return problems


OPERATIONS = (
    ("click", 3),
    ("pay", 4),
    ("refund", 2),
    ("complete", 2),
    ("redeliver", 2),
    ("withdraw", 2),
    ("review", 2),
)
