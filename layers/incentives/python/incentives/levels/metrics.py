"""The ten level metrics (seed 001 §2.3.3 "字段解释"), pure.

Every metric is a sum of contributions, each on a local day of the merchant. A source (an order,
a customer's clicks, a joining, a registration, a recharge) contributes a *target* that is a
function of what is known about it; storage keeps what it contributed so far and writes only
the difference. So the figures depend on which facts arrived, never on their order, and a
repeated fact changes nothing.

Timing, word for word from the seed:

- paid orders / received amount: at payment, never reduced by after-sales (售后不扣减);
- deal orders / deal amount: once the order is completed *and* past its after-sales window
  (过维权期后计入), fully refunded orders excluded, refunds subtracted;
- consumption amount: the affiliate's own purchases at payment (paid + points + balance);
- bought given products: own purchase at payment, reverted by a successful after-sales refund;
- bound customers, invited affiliates, invited members, recharge amount: when they happen.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from incentives.core.clock import local_date

if TYPE_CHECKING:
    from incentives.orders.aggregate import OrderState


class Period(Protocol):
    """A customer's binding period as the metrics read it (``affiliates.binding.Period``; levels sit
    below affiliates, so they name only what they read)."""

    @property
    def affiliate_id(self) -> str: ...

    @property
    def start(self) -> datetime: ...


class Metric(StrEnum):
    """The ten metrics a level threshold may use (one English name each, see docs/glossary.md)."""

    BOUND_CUSTOMERS = "bound_customers"
    """绑定客户数: customers newly bound to the affiliate, each once, on the day the binding began."""
    INVITED_AFFILIATES = "invited_affiliates"
    """邀请微客数: people who became affiliates through the affiliate's invitation, on the day they joined."""
    INVITED_MEMBERS = "invited_members"
    """邀请会员数: people who registered as members through the affiliate's invitation."""
    PAID_ORDERS = "paid_orders"
    """支付单数: orders that earned the affiliate a reward, at payment; after-sales never reduce it."""
    RECEIVED_FEN = "received_fen"
    """实收金额: what those orders actually paid (no discounts, points or balance), at payment;
    never reduced."""
    DEAL_ORDERS = "deal_orders"
    """成交单数: orders that earned a reward, once completed and past the after-sales window;
    fully refunded orders are not counted."""
    DEAL_FEN = "deal_fen"
    """成交金额: what those orders actually paid less what was refunded, past the after-sales window."""
    CONSUMPTION_FEN = "consumption_fen"
    """消费金额: the affiliate's own purchases, paid + points + balance (the order's receivable),
    at payment."""
    RECHARGE_FEN = "recharge_fen"
    """充值金额: what the affiliate recharged."""
    BOUGHT_PRODUCTS = "bought_products"
    """购买指定商品: the affiliate bought one of the given products (at payment; a successful
    after-sales refund of the line reverts it). Any one of the products satisfies the condition."""

    @property
    def is_amount(self) -> bool:
        """True for amounts in fen, False for counts."""
        return self.value.endswith("_fen")


BOUGHT_PREFIX = "bought:"


def bought_key(product_id: str) -> str:
    """The metric key of one product bought (``bought_products`` is counted per product)."""
    return f"{BOUGHT_PREFIX}{product_id}"


Key = tuple[str, date, str]
"""(affiliate id, local day, metric key) — a metric key is a :class:`Metric` value or ``bought:<product>``."""
Contributions = dict[Key, int]


def minus(target: Mapping[Key, int], applied: Mapping[Key, int]) -> Contributions:
    """What must be added so that ``applied`` becomes ``target`` (zeros left out)."""
    delta = {key: amount - applied.get(key, 0) for key, amount in target.items()}
    delta.update({key: -amount for key, amount in applied.items() if key not in target})
    return {key: amount for key, amount in delta.items() if amount}


def affiliates_of(contributions: Iterable[Key]) -> list[str]:
    return sorted({affiliate for affiliate, _, _ in contributions})


def encode(contributions: Mapping[Key, int]) -> dict[str, dict[str, dict[str, int]]]:
    """As stored: affiliate → day → metric key → amount."""
    document: dict[str, dict[str, dict[str, int]]] = {}
    for (affiliate, day, key), amount in sorted(contributions.items()):
        document.setdefault(affiliate, {}).setdefault(day.isoformat(), {})[key] = amount
    return document


def decode(document: Mapping[str, Mapping[str, Mapping[str, int]]]) -> Contributions:
    return {
        (affiliate, date.fromisoformat(day), key): int(amount)
        for affiliate, days in document.items()
        for day, keys in days.items()
        for key, amount in keys.items()
    }


def moved(contributions: Mapping[Key, int], affiliate_id: str) -> dict[str, int]:
    """How much each metric of one affiliate moves (over all days)."""
    found: dict[str, int] = defaultdict(int)
    for (affiliate, _, key), amount in contributions.items():
        if affiliate == affiliate_id:
            found[key] += amount
    return {key: amount for key, amount in sorted(found.items()) if amount}


# --- what each source contributes ----------------------------------------------------------------


@dataclass(frozen=True)
class OrderInputs:
    """What, beside the order itself, decides an order's contributions."""

    beneficiaries: tuple[str, ...] = ()
    """Affiliates the order earned a reward (a commission or an invite reward): 获得奖励的订单."""
    buyer_affiliate_id: str | None = None
    """The buyer, when they were an affiliate at payment (their own purchase)."""
    deal_at: datetime | None = None
    """When the order's after-sales window ends (completion + the program's window), once completed."""


def fully_refunded(state: OrderState) -> bool:
    """Every fen paid was refunded (已全部退款): refunds exist and cover what was paid."""
    return bool(state.refunds) and state.refunded_fen >= state.paid_fen


def reverted_lines(state: OrderState) -> set[str]:
    """Lines a successful after-sales refund took back whole (维权成功)."""
    if state.paid is None:
        return set()
    named = {line.line_id for refund in state.refunds.values() for line in refund.lines}
    refunded = state.refunded_fen_by_line()
    return {
        line.line_id
        for line in state.paid.lines
        if line.line_id in named and refunded.get(line.line_id, 0) >= line.paid_fen
    }


def deal_matured(inputs: OrderInputs, now: datetime) -> bool:
    return inputs.deal_at is not None and now >= inputs.deal_at


def order_contributions(
    state: OrderState, inputs: OrderInputs, now: datetime, time_zone: str
) -> Contributions:
    """What one order contributes to the metrics of the affiliates it concerns, as known ``now``.

    Paid orders and received amount sit on the payment day; deal orders and deal amount on the
    day the after-sales window ends, once it has (``now``); own purchases on the payment day.
    """
    found: Contributions = {}
    if state.paid is None:
        return found
    order = state.paid
    paid_day = local_date(order.paid_at, time_zone)
    received = sum(line.paid_fen for line in order.lines)

    def add(affiliate: str, day: date, key: str, amount: int) -> None:
        if amount:
            found[(affiliate, day, key)] = found.get((affiliate, day, key), 0) + amount

    for affiliate in sorted(set(inputs.beneficiaries)):
        add(affiliate, paid_day, Metric.PAID_ORDERS.value, 1)
        add(affiliate, paid_day, Metric.RECEIVED_FEN.value, received)
        if state.completed is not None and deal_matured(inputs, now) and not fully_refunded(state):
            assert inputs.deal_at is not None
            deal_day = local_date(inputs.deal_at, time_zone)
            add(affiliate, deal_day, Metric.DEAL_ORDERS.value, 1)
            add(affiliate, deal_day, Metric.DEAL_FEN.value, received - state.refunded_fen)
    buyer = inputs.buyer_affiliate_id
    if buyer:
        add(
            buyer,
            paid_day,
            Metric.CONSUMPTION_FEN.value,
            sum(line.paid_fen + line.points_fen + line.balance_fen for line in order.lines),
        )
        reverted = reverted_lines(state)
        for line in order.lines:
            if line.line_id not in reverted:
                add(buyer, paid_day, bought_key(line.product_id), 1)
    return found


def deal_pending(state: OrderState, inputs: OrderInputs, now: datetime) -> datetime | None:
    """When the order's deal figures will count, if they are still to come (for the due queue)."""
    if state.paid is None or state.completed is None or inputs.deal_at is None:
        return None
    if not inputs.beneficiaries or deal_matured(inputs, now):
        return None
    return inputs.deal_at


def binding_contributions(periods: Iterable[Period], time_zone: str) -> Contributions:
    """A customer's bindings: each affiliate who ever had them counts them once, on the day their
    first binding period began (绑定客户数 counts new bindings, not re-bindings)."""
    first: dict[str, datetime] = {}
    for period in periods:
        if period.affiliate_id not in first or period.start < first[period.affiliate_id]:
            first[period.affiliate_id] = period.start
    return {
        (affiliate, local_date(start, time_zone), Metric.BOUND_CUSTOMERS.value): 1
        for affiliate, start in first.items()
    }


def one(affiliate_id: str, metric: Metric, at: datetime, time_zone: str, amount: int = 1) -> Contributions:
    """A single contribution: an invited affiliate or member, a recharge."""
    return {(affiliate_id, local_date(at, time_zone), metric.value): amount} if amount else {}


# --- figures ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """Days counted: ``first`` … ``last`` inclusive; ``first`` None means unlimited (不限期)."""

    first: date | None
    last: date

    def covers(self, day: date) -> bool:
        return day <= self.last and (self.first is None or day >= self.first)


@dataclass(frozen=True)
class MetricHistory:
    """One affiliate's figures: the running total of every metric key and the daily amounts of
    the days an assessment may need (those of its longest window, and any after it)."""

    totals: Mapping[str, int]
    days: Mapping[date, Mapping[str, int]]

    def value(self, key: str, window: Window) -> int:
        """The sum of ``key`` over ``window``: unlimited is the total less what lies after it."""
        if window.first is None:
            later = sum(amounts.get(key, 0) for day, amounts in self.days.items() if day > window.last)
            return int(self.totals.get(key, 0)) - later
        return sum(amounts.get(key, 0) for day, amounts in self.days.items() if window.covers(day))

    def bought(self, product_ids: Iterable[str], window: Window) -> int:
        """Purchases of any of ``product_ids`` in the window (not reverted)."""
        return sum(self.value(bought_key(product), window) for product in sorted(set(product_ids)))
