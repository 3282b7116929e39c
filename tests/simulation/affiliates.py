"""The affiliate side of the simulation: clicks, orders paid / refunded / completed in any
order and more than once, settlement, withdrawals reviewed and settled by hand or paid by
WeChat Pay transfer (which the affiliate confirms, declines or ignores), under table faults.

Every event travels as the event processor receives it (a ``QueuedEvent``) through the
product's own dispatch and consumers. What each participant did and what the product
answered is written to the world's history, from which the oracle computes the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from incentives.affiliates.program import ProgramSettings
from incentives.core.errors import Conflict, InvalidInput
from incentives.ledger.errors import InsufficientBalance
from incentives.ledger.model import Account, OwnerKind
from incentives.levels.service import run_assessment
from incentives.levels.service import save_settings as save_levels
from incentives.levels.settings import LevelSettings
from incentives.payouts.model import PayoutStatus, payout_id_for
from incentives.storage.affiliates import withdrawals
from incentives.storage.affiliates.membership import ApplicationInput, submit_application
from incentives.storage.affiliates.store import account, save_settings
from incentives.storage.affiliates.withdrawals import (
    Approval,
    ManualSettlement,
    PayeeAccount,
    Rejection,
    Settlement,
    WithdrawalInput,
)
from incentives.storage.levels import TableLevelRepository
from incentives.storage.orders import TableOrderRepository
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

if TYPE_CHECKING:
    from tests.simulation.world import World

UPLINES: dict[str, str | None] = {"aff-C": None, "aff-B": "aff-C", "aff-A": "aff-B"}
"""aff-B invited aff-A; aff-C invited aff-B (so aff-A's upline is aff-B)."""
AFFILIATES = tuple(UPLINES)
CUSTOMERS = ("cust-1", "cust-2", "cust-3", "aff-A")
PAYEE = PayeeAccount.model_validate({"channel": "wechat", "account": "sim_affiliate", "name": "模拟"})


@dataclass
class AffiliateSide:
    corp: str
    settings: ProgramSettings
    uplines: dict[str, str | None]
    sent: list[tuple[str, str, object]]
    """(event id, type, fact) of every order event sent at least once."""
    levels: LevelSettings | None = None

    def account(self, affiliate: str) -> Account:
        return account(self.corp, affiliate)

    def openid(self, affiliate: str) -> str:
        return f"openid-{affiliate}"

    def chain(self, affiliate: str) -> list[str]:
        found = [affiliate]
        while (above := self.uplines.get(found[-1])) and above not in found:
            found.append(above)
        return found


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
    save_settings(world.table, world.corp, settings, world.now)
    side = AffiliateSide(world.corp, settings, dict(UPLINES), [])
    for affiliate in ("aff-C", "aff-B", "aff-A"):
        submit_application(
            world.table,
            world.corp,
            affiliate,
            ApplicationInput(answers={}, openid=side.openid(affiliate), invited_by=UPLINES[affiliate]),
            world.now,
        )
    side.levels = level_settings(world, settings)
    save_levels(TableLevelRepository(world.table), world.corp, side.levels, world.now)
    world.accounts += [side.account(affiliate) for affiliate in AFFILIATES]
    return side


def level_settings(world: World, settings: ProgramSettings) -> LevelSettings:
    """Levels on figures that only grow (paid orders, received and consumption amounts) over periods
    longer than a simulated world lasts, so the level a history reaches does not depend on when an
    assessment ran; a manual level in between, never to be entered automatically. Every level's rate
    is the program's, so commissions stay what the ledger's oracle expects."""
    rng, rate = world.rng, settings.commission_rate_bp

    def level(
        name: str, match: str, conditions: list[tuple[str, int]], period: int | None
    ) -> dict[str, object]:
        return {
            "name": name,
            "commission_rate_bp": rate,
            "period_days": period,
            "threshold": {
                "match": match,
                "conditions": [{"metric": metric, "at_least": at_least} for metric, at_least in conditions],
            },
        }

    paid = rng.randint(1, 2)
    return LevelSettings.model_validate(
        {
            "levels": [
                {"name": "普通", "commission_rate_bp": rate},
                level(
                    "铜牌",
                    "any",
                    [("paid_orders", paid), ("consumption_fen", rng.randint(20_000, 80_000))],
                    365,
                ),
                {"name": "特邀", "strategy": "manual", "commission_rate_bp": rate},
                level(
                    "银牌", "all", [("paid_orders", paid + rng.randint(1, 2)), ("received_fen", 10_000)], None
                ),
                level("金牌", "any", [("paid_orders", paid + rng.randint(2, 4))], rng.choice([None, 365])),
            ]
        }
    )


def send(world: World, event_id: str, kind: str, fact: OrderPaid | OrderRefunded | OrderCompleted) -> str:
    """The merchant's system sends an order event; a payment is retried until applied (SQS
    redelivers), a refund or completion that fails waits for a later redelivery."""
    side = world.affiliates
    if all(sent_id != event_id for sent_id, _, _ in side.sent):
        side.sent.append((event_id, kind, fact))
    return world.deliver(event_id, kind, fact, until_applied=kind == "order.paid")


def click(world: World) -> str:
    customer, affiliate = world.rng.choice(CUSTOMERS), world.rng.choice(AFFILIATES)
    late = timedelta(hours=world.rng.choice([0, 0, 0, 2, 72]))  # some clicks arrive after the payment
    fact = ReferralClicked(customer_id=customer, affiliate_id=affiliate, clicked_at=world.now - late)
    return world.deliver(world._id("click-"), "referral.clicked", fact, until_applied=True)


def pay(world: World) -> str:
    rng = world.rng
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
    world.history.orders[order_id] = order
    if rng.random() < 0.2:
        return f"order {order_id} planned; its payment will come late"
    return f"paid {order_id}: " + send(world, f"paid-{order_id}", "order.paid", order)


def refund(world: World) -> str:
    history, rng = world.history, world.rng
    if not history.orders:
        return "refund: no orders"
    order = history.orders[rng.choice(sorted(history.orders))]
    line = rng.choice(order.lines)
    done = sum(
        refund_line.refund_fen
        for earlier in history.refunds.values()
        if earlier.order_id == order.order_id
        for refund_line in earlier.lines
        if refund_line.line_id == line.line_id
    )
    left = line.paid_fen - done
    if left <= 0:
        return f"refund {order.order_id}: line {line.line_id} fully refunded"
    fen = left if rng.random() < 0.3 else rng.randint(1, left)
    fact = OrderRefunded(
        order_id=order.order_id,
        refund_id=world._id("R"),
        refunded_at=world.now,
        lines=[RefundLine(line_id=line.line_id, refund_fen=fen)],
    )
    history.refunds[fact.refund_id] = fact
    return f"refund {fen} of {order.order_id}: " + send(
        world, f"refund-{fact.refund_id}", "order.refunded", fact
    )


def complete(world: World) -> str:
    history = world.history
    if not history.orders:
        return "complete: no orders"
    order_id = world.rng.choice(sorted(history.orders))
    fact = OrderCompleted(order_id=order_id, completed_at=world.now)
    history.completions.setdefault(order_id, []).append(world.now)
    return f"complete {order_id}: " + send(
        world, f"completed-{order_id}-{world.counter}", "order.completed", fact
    )


def redeliver(world: World) -> str:
    side, history = world.affiliates, world.history
    late = [order for order_id, order in history.orders.items() if f"paid-{order_id}" not in history.applied]
    if late and world.rng.random() < 0.5:
        order = late[0]
        return f"late payment {order.order_id}: " + send(world, f"paid-{order.order_id}", "order.paid", order)
    if not side.sent:
        return "redeliver: nothing sent yet"
    event_id, kind, fact = world.rng.choice(side.sent)
    return f"redelivered {event_id}: " + world.deliver(event_id, kind, fact, until_applied=False)


def recharge(world: World) -> str:
    """A customer (an affiliate, sometimes) recharges; the merchant's system may send it twice."""
    rng = world.rng
    fact = RechargePaid(
        recharge_id=world._id("RC"),
        customer_id=rng.choice(CUSTOMERS),
        amount_fen=rng.randint(100, 20_000),
        paid_at=world.now,
    )
    event_id = f"recharge-{fact.recharge_id}"
    detail = world.deliver(event_id, "recharge.paid", fact, until_applied=True)
    if rng.random() < 0.3:
        detail += "; again: " + world.deliver(event_id, "recharge.paid", fact, until_applied=True)
    return f"recharge {fact.recharge_id} of {fact.amount_fen} by {fact.customer_id}: {detail}"


def register(world: World) -> str:
    """Someone registers as a member, through an affiliate's invitation or not."""
    rng = world.rng
    fact = MemberRegistered(
        customer_id=world._id("member-"),
        registered_at=world.now,
        invited_by_affiliate_id=rng.choice([*AFFILIATES, None]),
    )
    return f"member {fact.customer_id}: " + world.deliver(
        f"registered-{fact.customer_id}", "member.registered", fact, until_applied=True
    )


def assess_levels(world: World) -> str:
    """The per-minute level job, under table faults (an interrupted run is simply run again later)."""
    from tests.simulation.world import INTERRUPTIONS

    world._maybe_fault_table()
    try:
        done = run_assessment(
            TableLevelRepository(world.table), TableOrderRepository(world.table), world.now, "Asia/Shanghai"
        )
    except INTERRUPTIONS as fault:
        return f"level job interrupted ({type(fault).__name__})"
    return f"level job: {done}"


def withdraw(world: World) -> str:
    rng = world.rng
    affiliate = rng.choice(AFFILIATES)
    withdrawable = world.ledger.balance(account(world.corp, affiliate)).withdrawable
    if withdrawable >= 100 and rng.random() < 0.8:
        amount = rng.randint(100, withdrawable)
    else:  # below the threshold, or more than is withdrawable
        amount = rng.randint(1, max(1, withdrawable + 200))
    request_id = rng.choice([f"r{world.counter}", "r-repeat"])
    racing = rng.random() < 0.3  # the affiliate taps twice: a second request races the first

    def ask(request: str = request_id) -> dict[str, object]:
        nonlocal racing
        if racing:
            racing = False
            world.table.meanwhile = lambda: _raced(world, affiliate, amount, f"{request}-race")
        return withdrawals.request(
            world.table,
            world.ledger,
            world.corp,
            affiliate,
            WithdrawalInput(amount_fen=amount, request_id=request, payee_account=PAYEE),
            world.now,
        )

    try:
        item = world.until_answered(ask)
    except (InsufficientBalance, InvalidInput, Conflict) as refused:
        return f"withdrawal of {amount} by {affiliate} refused: {refused.message}"
    finally:
        world.table.meanwhile = None  # refused before it wrote: nothing raced it
    return _accepted(world, affiliate, item)


def _accepted(world: World, affiliate: str, item: dict[str, object]) -> str:
    withdrawal_id = str(item["withdrawal_id"])
    world.history.withdrawals.setdefault(withdrawal_id, (affiliate, int(str(item["amount_fen"]))))
    return f"withdrawal {withdrawal_id} of {item['amount_fen']} by {affiliate}"


def _raced(world: World, affiliate: str, amount: int, request_id: str) -> None:
    try:
        item = world.until_answered(
            lambda: withdrawals.request(
                world.table,
                world.ledger,
                world.corp,
                affiliate,
                WithdrawalInput(amount_fen=amount, request_id=request_id, payee_account=PAYEE),
                world.now,
            )
        )
    except (InsufficientBalance, InvalidInput, Conflict) as refused:
        world.trace.append(f"    racing withdrawal refused: {refused.message}")
        return
    world.trace.append("    racing " + _accepted(world, affiliate, item))


def review(world: World) -> str:
    history, rng = world.history, world.rng
    if not history.withdrawals:
        return "review: no withdrawals"
    withdrawal_id = rng.choice(sorted(history.withdrawals))
    status = withdrawals.get(world.table, world.corp, withdrawal_id)["status"]
    if status == "pending_review" and rng.random() < 0.25:
        outcome, action = (
            "rejected",
            lambda: withdrawals.reject(
                world.table, world.corp, withdrawal_id, Rejection(reason="sim"), "ops", world.now
            ),
        )
    elif status == "pending_review":
        settlement = Settlement.MANUAL if rng.random() < 0.3 else Settlement.AUTO
        outcome = "approved_manual" if settlement is Settlement.MANUAL else "approved_auto"
        action = lambda: withdrawals.approve(  # noqa: E731
            world.table,
            world.queue,
            world.corp,
            withdrawal_id,
            Approval(settlement=settlement),
            "ops",
            world.now,
        )
    elif status == "approved":
        outcome, action = (
            "paid_manually",
            lambda: withdrawals.settle_manually(
                world.table,
                world.corp,
                withdrawal_id,
                ManualSettlement(reference=f"ref-{withdrawal_id}"),
                "ops",
                world.now,
            ),
        )
    else:
        return f"review {withdrawal_id}: {status}, nothing to do"
    try:
        world.until_answered(action, done_if_conflict_after_fault=True)
    except Conflict as conflict:
        return f"review {withdrawal_id}: {conflict.message}"
    history.reviews[withdrawal_id] = outcome
    world.remember_payouts()
    return f"{outcome.replace('_', ' ')} {withdrawal_id}"


def payee(world: World) -> str:
    """An affiliate whose withdrawal shows a transfer to confirm confirms it with what the product
    gave them (most of the time), declines it, or leaves it."""
    waiting = _waiting_transfers(world)
    if not waiting:
        return "payee: no transfer to confirm"
    withdrawal_id, confirmation = waiting[world.rng.randrange(len(waiting))]
    return _decide(world, withdrawal_id, confirmation, world.rng.random())


def payees_decide(world: World, decided: set[str]) -> None:
    """In the drain, each payee decides once about each transfer still waiting for them."""
    for withdrawal_id, confirmation in _waiting_transfers(world):
        if withdrawal_id not in decided:
            decided.add(withdrawal_id)
            world.trace.append(
                "    drain: " + _decide(world, withdrawal_id, confirmation, world.rng.random())
            )


def _waiting_transfers(world: World) -> list[tuple[str, dict[str, str]]]:
    """(cause, what to confirm with) of each transfer the product shows its payee as waiting:
    withdrawals in the distribution center, and direct payouts to affiliates."""
    found = []
    for withdrawal_id in sorted(world.history.withdrawals):
        item = withdrawals.get(world.table, world.corp, withdrawal_id)
        shown = withdrawals.view(item, world.payouts, world.corp)
        if shown["status"] == "awaiting_confirmation":
            found.append((withdrawal_id, shown["confirmation"] | {"payout_id": shown["payout_id"]}))
    for payee_account, source, _amount in world.history.payouts:
        if payee_account.owner_kind is not OwnerKind.AFFILIATE:
            continue
        payout = world.payouts.get(world.corp, payout_id_for(world.corp, source))
        if payout is not None and payout.status is PayoutStatus.AWAITING_CONFIRMATION and payout.confirmation:
            found.append(
                (
                    source,
                    {
                        "package_info": payout.confirmation.package_info,
                        "mch_id": payout.confirmation.mch_id,
                        "app_id": payout.confirmation.app_id,
                        "payout_id": payout.payout_id,
                    },
                )
            )
    return found


def _decide(world: World, cause: str, confirmation: dict[str, str], roll: float) -> str:
    number = confirmation["payout_id"]
    if roll < 0.7:
        action, detail = (
            "confirm",
            {
                "package": confirmation["package_info"],
                "mch_id": confirmation["mch_id"],
                "app_id": confirmation["app_id"],
            },
        )
    elif roll < 0.85:
        action, detail = "decline", {}
    else:
        return f"payee of {cause} ignores the transfer"
    status, answer = world.books.payee_acts(number, action, detail)
    if status == 200:
        world.history.payee[cause] = "confirmed" if action == "confirm" else "declined"
        return f"payee {world.history.payee[cause]} the transfer of {cause}"
    return f"payee could not {action} the transfer of {cause}: {answer.get('error')}"


def drain(world: World) -> None:
    """Every order event once more (payments that never came included), no faults."""
    history, side = world.history, world.affiliates
    for order_id, order in history.orders.items():
        if f"paid-{order_id}" not in history.applied:
            send(world, f"paid-{order_id}", "order.paid", order)
    for event_id, kind, fact in list(side.sent):
        world.deliver(event_id, kind, fact, until_applied=True)


OPERATIONS = (
    ("click", 3),
    ("pay", 4),
    ("refund", 2),
    ("complete", 3),
    ("redeliver", 2),
    ("withdraw", 5),
    ("review", 6),
    ("payee", 4),
    ("recharge", 1),
    ("register", 1),
    ("assess_levels", 2),
)
