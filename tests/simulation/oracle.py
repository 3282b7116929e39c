"""The oracle: what each beneficiary should have, computed from the world's history alone.

It re-derives, independently of the product's code, the rules the ledger must obey
(seeds 000, 001, 003; SPEC §4.3, §4.4, §4.7):

- binding at payment time from the clicks the product had received (permanent: the first
  click; override: the latest), a late click attributing an order decided with nobody bound;
- per line commission = paid × rate (product override, else the program's rate), half up;
  the upline's invite reward likewise; self-purchase only when enabled;
- refunds take back each share pro rata to the line's cumulative refund;
- guide rewards: per guide, month and rule version, ``min(limit, occurrences × amount)``;
- withdrawals reserve what was accepted, release what was rejected, pay what was settled by
  hand or by a transfer its payee confirmed; a transfer the payee declined or never confirmed
  is closed unpaid and its amount released.

After a drain (no faults, every event delivered, every hold due, every payout worked) the
ledger's buckets must equal these figures, and the provider's record of money moved must
match the payouts exactly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from incentives.ledger.model import Account, Bucket, EntryKind, OwnerKind
from incentives.webhook.models import OrderCompleted, OrderPaid, OrderRefunded, ReferralClicked

if TYPE_CHECKING:
    from tests.simulation.world import World

TZ = ZoneInfo("Asia/Shanghai")


def half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator) if denominator > 0 else 0


@dataclass
class Expected:
    earned: int = 0
    taken_back: int = 0
    """reversed + clawed back"""
    pending: int = 0
    reserved: int = 0
    paid: int = 0


@dataclass
class Figures:
    by_account: dict[Account, Expected] = field(default_factory=lambda: defaultdict(Expected))
    moved_by_openid: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    """What the provider should have moved to each payee."""
    attributed: dict[str, str | None] = field(default_factory=dict)
    """order id → the affiliate who earns its commission (None: nobody)."""


# --- affiliates -----------------------------------------------------------------------------------


def bound_at(clicks: list[tuple[datetime, str]], mode: str, at: datetime) -> str | None:
    """Seed 001 binding: permanent → the first click ever; override → the latest click by ``at``."""
    before = sorted(click for click in clicks if click[0] <= at)
    if not before:
        return None
    if mode == "permanent":
        first = min(clicks)
        return first[1] if first[0] <= at else None
    return before[-1][1]


def attributions(world: World) -> dict[str, str | None]:
    """Who earns each order's commission, replaying the timeline of applied clicks and payments."""
    side = world.affiliates
    settings = side.settings
    mode = settings.binding_mode.value
    clicks: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    decided: dict[str, str | None] = {}
    waiting: dict[str, list[Any]] = defaultdict(list)
    for kind, fact in world.history.timeline:
        if kind == "referral.clicked":
            chain = side.chain(fact.affiliate_id)
            if fact.customer_id in chain:
                continue  # never to oneself, never below oneself
            clicks[fact.customer_id].append((fact.clicked_at, fact.affiliate_id))
            for order in list(waiting[fact.customer_id]):
                if order.paid_at >= fact.clicked_at:
                    earner = bound_at(clicks[fact.customer_id], mode, order.paid_at)
                    if earner is not None:
                        decided[order.order_id] = earner
                        waiting[fact.customer_id].remove(order)
            continue
        if kind != "order.paid":
            continue
        order = fact
        if order.order_id in decided or order in waiting[order.customer_id]:
            continue
        if order.customer_id in side.uplines:  # the buyer is an affiliate
            decided[order.order_id] = order.customer_id if settings.self_purchase_commission else None
            continue
        earner = bound_at(clicks[order.customer_id], mode, order.paid_at)
        if earner is None:
            waiting[order.customer_id].append(order)
        else:
            decided[order.order_id] = earner
    for orders in waiting.values():
        for order in orders:
            decided[order.order_id] = None
    return decided


def _rates(world: World, product_id: str) -> tuple[int, int]:
    settings = world.affiliates.settings
    override = settings.product_rates.get(product_id)
    commission = settings.commission_rate_bp
    invite = settings.invite_rate_bp
    if override is not None and override.commission_rate_bp is not None:
        commission = override.commission_rate_bp
    if override is not None and override.invite_rate_bp is not None:
        invite = override.invite_rate_bp
    return commission, invite


def commission_figures(world: World, figures: Figures) -> None:
    side, history = world.affiliates, world.history
    refunded: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for refund in history.refunds.values():
        for line in refund.lines:
            refunded[refund.order_id][line.line_id] += line.refund_fen
    figures.attributed = attributions(world)
    for order_id, earner in figures.attributed.items():
        if earner is None:
            continue
        order = history.orders[order_id]
        upline = side.uplines.get(earner)
        for role, beneficiary in (("commission", earner), ("invite", upline)):
            if beneficiary is None or (beneficiary == earner and role == "invite"):
                continue
            amount = taken = 0
            for line in order.lines:
                rate = _rates(world, line.product_id)[0 if role == "commission" else 1]
                line_amount = half_up(line.paid_fen * rate, 10_000)
                amount += line_amount
                taken += half_up(
                    line_amount * min(refunded[order_id][line.line_id], line.paid_fen), line.paid_fen
                )
            expected = figures.by_account[side.account(beneficiary)]
            expected.earned += amount
            expected.taken_back += taken
            if order_id not in history.completions:
                expected.pending += amount - taken


def withdrawal_figures(world: World, figures: Figures) -> None:
    side, history = world.affiliates, world.history
    for withdrawal_id, (affiliate, amount) in history.withdrawals.items():
        expected = figures.by_account[side.account(affiliate)]
        outcome = history.reviews.get(withdrawal_id)
        if outcome == "paid_manually":
            expected.paid += amount
        elif outcome == "approved_auto":
            if history.payee.get(withdrawal_id) == "confirmed":
                expected.paid += amount
                figures.moved_by_openid[side.openid(affiliate)] += amount
            # otherwise the transfer was declined or expired: released, withdrawable again
        elif outcome != "rejected":
            expected.reserved += amount


# --- guides and direct operations ----------------------------------------------------------------


def reward_figures(world: World, figures: Figures) -> None:
    """Seed 000: a custom rule pays ``amount`` per occurrence, cut at the monthly limit."""
    occurrences: dict[tuple[str, str], int] = defaultdict(int)
    for guide, at in world.history.behaviors.values():
        occurrences[(guide, at.astimezone(TZ).strftime("%Y-%m"))] += 1
    for (guide, _month), count in occurrences.items():
        total = min(world.rule_limit, count * world.rule_amount)
        expected = figures.by_account[Account(world.corp, OwnerKind.GUIDE, guide)]
        expected.earned += total
        expected.paid += total
        figures.moved_by_openid[f"o-{guide}"] += total


def direct_figures(world: World, figures: Figures) -> None:
    history = world.history
    for account, _credit, amount in history.credits:
        figures.by_account[account].earned += amount
    for account, amount in [*history.reversals, *history.clawbacks]:
        figures.by_account[account].taken_back += amount
    for account, source, amount in history.payouts:
        if account.owner_kind is OwnerKind.AFFILIATE and history.payee.get(source) != "confirmed":
            continue  # a transfer its payee declined or never confirmed: released
        figures.by_account[account].paid += amount
        figures.moved_by_openid[f"o-{account.owner_id}"] += amount


def expected_figures(world: World) -> Figures:
    figures = Figures()
    direct_figures(world, figures)
    reward_figures(world, figures)
    commission_figures(world, figures)
    withdrawal_figures(world, figures)
    return figures


# --- checks ---------------------------------------------------------------------------------------


def ledger_matches_history(world: World) -> list[str]:
    """After a drain: every account's buckets are what the history says they must be."""
    figures = expected_figures(world)
    problems = []
    for account in world.accounts:
        expected = figures.by_account[account]
        balance = world.ledger.balance(account)
        actual = {
            "earned": balance[Bucket.EARNED],
            "reversed + clawed back": balance[Bucket.REVERSED] + balance[Bucket.CLAWED_BACK],
            "pending": balance[Bucket.PENDING],
            "reserved": balance[Bucket.RESERVED],
            "paid": balance[Bucket.PAID],
        }
        wanted = {
            "earned": expected.earned,
            "reversed + clawed back": expected.taken_back,
            "pending": expected.pending,
            "reserved": expected.reserved,
            "paid": expected.paid,
        }
        problems += [
            f"{account.owner_id}: {name} is {actual[name]}, the history makes it {wanted[name]}"
            for name in actual
            if actual[name] != wanted[name]
        ]
    moved: dict[str, int] = defaultdict(int)
    for transfer in world.books.transfers_made():
        moved[transfer["openid"]] += transfer["amount_fen"]
    for openid in sorted(set(moved) | set(figures.moved_by_openid)):
        if moved[openid] != figures.moved_by_openid[openid]:
            problems.append(
                f"the provider moved {moved[openid]} fen to {openid}; "
                f"the history makes it {figures.moved_by_openid[openid]}"
            )
    return problems


def provider_books(world: World) -> list[str]:
    """Every transfer the provider executed (its list, not its index): one per number, only for
    payouts the product made; and every bill it made, waiting or not: one number per withdrawal."""
    problems = []
    seen: dict[tuple[str, str], int] = defaultdict(int)
    by_withdrawal: dict[str, set[str]] = defaultdict(set)
    for transfer in world.books.transfers_made():
        seen[(transfer["channel"], transfer["number"])] += 1
        if world.payouts.get(world.corp, transfer["number"]) is None:
            problems.append(f"money moved under the unknown number {transfer['number']}")
    with world.books.lock:
        bills = [bill.number for bill in world.books.transfers.values()]
    for number in bills:
        payout = world.payouts.get(world.corp, number)
        if payout is None:
            continue
        for withdrawal_id in world.history.withdrawals:
            if withdrawal_id in payout.source:
                by_withdrawal[withdrawal_id].add(number)
    problems += [f"number {number} paid {count} times" for (_, number), count in seen.items() if count > 1]
    problems += [
        f"withdrawal {withdrawal_id} paid twice: transfers under {sorted(numbers)}"
        for withdrawal_id, numbers in by_withdrawal.items()
        if len(numbers) > 1
    ]
    return problems


def settlement_after_window(world: World) -> list[str]:
    """A commission becomes withdrawable only once its order's after-sales window has passed."""
    problems = []
    window = timedelta(days=world.affiliates.settings.after_sales_window_days)
    for affiliate in world.affiliates.uplines:
        for entry in world.ledger.entries(world.affiliates.account(affiliate)):
            if entry.kind is not EntryKind.SETTLEMENT or not entry.ref.startswith("aff:"):
                continue
            order_id = entry.ref.split(":")[1]
            completed = world.history.completions.get(order_id)
            if not completed:
                problems.append(f"{entry.ref} settled but its order was never completed")
            elif entry.at < min(completed) + window:
                problems.append(f"{entry.ref} settled at {entry.at}, before its window closed")
    return problems


# --- levels ---------------------------------------------------------------------------------------


def _share_amount(world: World, order: Any, role: str) -> int:
    rates = [_rates(world, line.product_id)[0 if role == "commission" else 1] for line in order.lines]
    return sum(half_up(line.paid_fen * rate, 10_000) for line, rate in zip(order.lines, rates, strict=True))


def level_figures(world: World) -> dict[str, dict[str, int]]:
    """Seed 001 §2.3.3's ten metrics per affiliate, from the history alone, once every event has
    been applied and every after-sales window has passed (after a drain)."""
    side, history = world.affiliates, world.history
    found: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    clicks: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    members: set[tuple[str, str]] = set()
    for kind, fact in history.timeline:
        if kind == "referral.clicked" and fact.customer_id not in side.chain(fact.affiliate_id):
            clicks[fact.customer_id].append((fact.clicked_at, fact.affiliate_id))
        elif kind == "member.registered" and fact.invited_by_affiliate_id:
            members.add((fact.invited_by_affiliate_id, fact.customer_id))
        elif kind == "recharge.paid" and fact.customer_id in side.uplines:
            found[fact.customer_id]["recharge_fen"] += fact.amount_fen
    for made in clicks.values():  # permanent: the first click's affiliate; override: every one clicked
        ever = {min(made)[1]} if side.settings.binding_mode.value == "permanent" else {a for _, a in made}
        for affiliate in ever:
            found[affiliate]["bound_customers"] += 1
    for inviter, _member in members:
        found[inviter]["invited_members"] += 1
    for upline in side.uplines.values():
        if upline:
            found[upline]["invited_affiliates"] += 1
    refunded: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for refund in history.refunds.values():
        for line in refund.lines:
            refunded[refund.order_id][line.line_id] += line.refund_fen
    for order_id, earner in attributions(world).items():
        order = history.orders[order_id]
        paid = sum(line.paid_fen for line in order.lines)
        taken = sum(min(refunded[order_id].get(line.line_id, 0), line.paid_fen) for line in order.lines)
        whole = bool(refunded[order_id]) and taken >= paid
        rewarded = [
            beneficiary
            for role, beneficiary in (("commission", earner), ("invite", side.uplines.get(earner or "")))
            if beneficiary
            and beneficiary != (earner if role == "invite" else None)
            and _share_amount(world, order, role) > 0
        ]
        for beneficiary in rewarded:
            found[beneficiary]["paid_orders"] += 1
            found[beneficiary]["received_fen"] += paid
            if order_id in history.completions and not whole:
                found[beneficiary]["deal_orders"] += 1
                found[beneficiary]["deal_fen"] += paid - taken
        if order.customer_id in side.uplines:  # an affiliate's own purchase
            found[order.customer_id]["consumption_fen"] += sum(
                line.paid_fen + line.points_fen + line.balance_fen for line in order.lines
            )
            for line in order.lines:
                if not (
                    line.line_id in refunded[order_id] and refunded[order_id][line.line_id] >= line.paid_fen
                ):
                    found[order.customer_id][f"bought:{line.product_id}"] += 1
    return {affiliate: {k: n for k, n in figures.items() if n} for affiliate, figures in found.items()}


def _product_figures(world: World, affiliate: str) -> dict[str, int]:
    from incentives.storage.levels import TableLevelRepository

    totals = TableLevelRepository(world.table).standing(world.corp, affiliate).totals
    return {key: n for key, n in totals.items() if n}


def level_figures_match_history(world: World) -> list[str]:
    """After a drain: every level figure of every affiliate is what the history makes it."""
    expected = level_figures(world)
    problems = []
    for affiliate in world.affiliates.uplines:
        actual, wanted = _product_figures(world, affiliate), expected.get(affiliate, {})
        problems += [
            f"{affiliate}: level figure {key} is {actual.get(key, 0)}, "
            f"the history makes it {wanted.get(key, 0)}"
            for key in sorted(set(actual) | set(wanted))
            if actual.get(key, 0) != wanted.get(key, 0)
        ]
    return problems


def _value(figures: dict[str, int], condition: Any, quota: dict[str, int]) -> int:
    if condition.metric.value == "bought_products":
        found = sum(figures.get(f"bought:{product}", 0) for product in condition.product_ids or [])
    else:
        found = figures.get(condition.metric.value, 0)
    return found + quota.get(condition.metric.value, 0)


def _met(level: Any, figures: dict[str, int], quota: dict[str, int]) -> bool:
    met = [_value(figures, c, quota) >= c.at_least for c in level.threshold.conditions]
    return (all if level.threshold.match.value == "all" else any)(met)


def _automatic(levels: Any) -> list[tuple[int, Any]]:
    return [
        (position, level)
        for position, level in enumerate(levels.levels, start=1)
        if position > 1 and level.strategy.value == "auto" and level.threshold is not None
    ]


def expected_rank(levels: Any, figures: dict[str, int], quota: dict[str, int] | None = None) -> int:
    """The highest automatic level whose threshold the figures (with the quota) meet, never a manual
    one. The simulation's periods outlast a world and its downgrade rules are ``none`` on figures
    that only grow and ``threshold`` on any, so after a drain the level is the highest one met: a
    level left when its figure fell was left for the highest met below it."""
    assert levels is not None
    rank = 1
    for position, level in _automatic(levels):
        if _met(level, figures, quota or {}):
            rank = position
    return rank


def keep_quota(
    levels: Any,
    rank: int,
    figures: dict[str, int],
    in_window: Callable[[Any], dict[str, int]] | None = None,
) -> dict[str, int]:
    """``keep`` (seed 001 §2.3.3 (5)): per metric the offset that makes the figures meet level
    ``rank`` and no automatic level above it: the smallest offset reaching each unmet condition
    (``any``: the first, when none is met), then for each level above still met, the largest offset
    below one of its conditions (``all``) or each of them (``any``). ``in_window``: a level's figures
    within its period (default: ``figures`` for every level)."""
    of = in_window or (lambda level: figures)
    quota: dict[str, int] = {}
    lowest: dict[str, int] = {}
    current = levels.levels[rank - 1]
    if rank > 1 and current.threshold is not None:
        mine = of(current)
        unmet = [c for c in current.threshold.conditions if _value(mine, c, {}) < c.at_least]
        if current.threshold.match.value == "any":
            unmet = unmet[:1] if len(unmet) == len(current.threshold.conditions) else []
        for c in unmet:
            lowest[c.metric.value] = quota[c.metric.value] = c.at_least - _value(mine, c, {})
    for position, level in _automatic(levels):
        if position <= rank or not _met(level, of(level), quota):
            continue
        bounds = [
            (c.metric.value, c.at_least - 1 - _value(of(level), c, {})) for c in level.threshold.conditions
        ]
        fitting = [(m, bound) for m, bound in bounds if bound >= lowest.get(m, bound)]
        for metric, bound in fitting[:1] if level.threshold.match.value == "all" else fitting:
            quota[metric] = min(quota.get(metric, 0), bound)
    return {metric: n for metric, n in sorted(quota.items()) if n}


def levels_match_history(world: World) -> list[str]:
    """After a drain: each affiliate's level is the one a from-scratch recomputation gives, with the
    quota ``keep`` gave them when the rules changed."""
    from incentives.storage.levels import TableLevelRepository
    from tests.simulation.world import START

    assert world.now - START < timedelta(days=365), "the periods no longer cover the whole world"
    expected = level_figures(world)
    side = world.affiliates
    problems = []
    for affiliate in side.uplines:
        standing = TableLevelRepository(world.table).standing(world.corp, affiliate)
        quota = side.level_quota.get(affiliate, {})
        wanted = expected_rank(side.levels, expected.get(affiliate, {}), quota)
        if standing.rank != wanted:
            problems.append(f"{affiliate}: level is {standing.rank}, the history makes it level {wanted}")
        if standing.quota != quota:
            problems.append(f"{affiliate}: quota is {standing.quota}, the rule change makes it {quota}")
    return problems


# --- levels over time (the second tenant, tests.simulation.timed_levels) -------------------------
#
# The seed's rules, re-implemented from seed 001 §2.3.3 (3)–(5) and the product's documented
# readings where the seed is silent (docs/decisions.md 117–120):
# - a threshold over N days on day D counts D−N+1 … D (local days); unlimited counts everything;
# - the level rises, when figures move, to the highest automatic level met (a check made by time
#   alone only lowers: 117);
# - ``threshold``: checked whenever figures move and, with N days, every day the job runs (the
#   window slides); it goes to the highest automatic level below that is met, else level 1;
# - ``cycle``: N-day cycles counted from the local day the level was obtained, each checked over its
#   own days as the day after it begins (117); ``single``: the X days from that day, checked once
#   as day X + 1 begins; both go to the named level or the one just below, and stack with the
#   threshold check, made when figures move (117);
# - retention: a triggered downgrade is not made when all / any of its conditions hold over the X
#   days ending on the trigger's day (the cycle's or single window's last day, or the day of the
#   threshold check), on the affiliate's own figures without quota (118);
# - a rule change: ``recalculate`` gives the highest automatic level met (one on a manual level
#   stays there unless a level above is met) and clears quotas; ``keep`` keeps the level and sets
#   the quota of ``keep_quota`` on each level's window (119). Quotas add to figures in every
#   threshold check.

Days = dict[date, dict[str, int]]
"""One affiliate's figures: local day → metric → amount."""


@dataclass
class TimedStanding:
    rank: int = 1
    obtained: date | None = None
    """The local day the level was obtained (cycles and the single check count from it)."""
    checked: date | None = None
    """The local day the level was last looked at by the job or an event."""
    quota: dict[str, int] = field(default_factory=dict)


def _local(at: datetime) -> date:
    return at.astimezone(TZ).date()


def timed_figures(side: Any, facts: list[Any]) -> dict[str, Days]:
    """Each affiliate's figures per day from the facts applied so far: a customer bound on the day
    of their click; an order paid for by a bound customer on its payment day (paid orders, received
    amount, never reduced); once completed (after-sales window 0 days) and not refunded whole, a
    deal on the day of its completion less what was refunded."""
    from tests.simulation.timed_levels import CUSTOMERS

    found: dict[str, Days] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    refunded: dict[str, int] = defaultdict(int)
    completed: dict[str, datetime] = {}
    for fact in facts:
        if isinstance(fact, OrderRefunded):
            refunded[fact.order_id] += sum(line.refund_fen for line in fact.lines)
        elif isinstance(fact, OrderCompleted):
            completed.setdefault(fact.order_id, fact.completed_at)
    for fact in facts:
        if isinstance(fact, ReferralClicked):
            found[fact.affiliate_id][_local(fact.clicked_at)]["bound_customers"] += 1
        elif isinstance(fact, OrderPaid):
            affiliate, paid = CUSTOMERS[fact.customer_id], sum(line.paid_fen for line in fact.lines)
            day = found[affiliate][_local(fact.paid_at)]
            day["paid_orders"] += 1
            day["received_fen"] += paid
            taken = refunded[fact.order_id]
            if fact.order_id in completed and taken < paid:
                deal = found[affiliate][_local(completed[fact.order_id])]
                deal["deal_orders"] += 1
                deal["deal_fen"] += paid - taken
    return {
        affiliate: {day: {k: n for k, n in amounts.items() if n} for day, amounts in days.items()}
        for affiliate, days in found.items()
    }


def _in_window(days: Days, first: date | None, last: date) -> dict[str, int]:
    total: dict[str, int] = defaultdict(int)
    for day, amounts in days.items():
        if day <= last and (first is None or day >= first):
            for key, n in amounts.items():
                total[key] += n
    return total


def _period(level: Any, day: date) -> tuple[date | None, date]:
    return (day - timedelta(days=level.period_days - 1) if level.period_days else None), day


def _meets(level: Any, days: Days, day: date, quota: dict[str, int], window: Any = None) -> bool:
    first, last = window or _period(level, day)
    return _met(level, _in_window(days, first, last), quota)


def _highest_met(
    levels: Any, days: Days, day: date, quota: dict[str, int], above: int, below: int
) -> int | None:
    met = [p for p, level in _automatic(levels) if above < p < below and _meets(level, days, day, quota)]
    return max(met) if met else None


def _retained(level: Any, days: Days, trigger: date) -> bool:
    rule = level.retention
    if rule is None:
        return False
    figures = _in_window(days, trigger - timedelta(days=rule.days - 1), trigger)
    held = [_value(figures, c, {}) >= c.at_least for c in rule.conditions]
    return (all if rule.match.value == "all" else any)(held)


def _checks_due(level: Any, standing: TimedStanding, day: date) -> list[tuple[str, date, date]]:
    """Walking day by day since the level was last looked at: each day that begins right after a
    cycle or the single check's days ended brings that check (kind, first day, last day)."""
    kind, start = level.downgrade.kind.value, standing.obtained
    assert start is not None
    found = []
    walked = max(standing.checked or start, start) + timedelta(days=1)
    while walked <= day:
        elapsed = (walked - start).days
        if kind == "single" and elapsed == level.downgrade.after_days:
            found.append(("single", start, walked - timedelta(days=1)))
        if kind == "cycle" and elapsed % level.period_days == 0:
            found.append(("cycle", walked - timedelta(days=level.period_days), walked - timedelta(days=1)))
        walked += timedelta(days=1)
    return found


class TimedReplay:
    """The second tenant's levels, replayed from its log."""

    def __init__(self, side: Any) -> None:
        self.side = side
        self.levels: Any = None
        self.standings: dict[str, TimedStanding] = {}
        self.facts: list[Any] = []
        self.figures: dict[str, Days] = {}
        self.seen: dict[str, int] = defaultdict(int)
        self.owed: set[str] = set()
        """Affiliates whose figures a payment moved: assessed at the job's next run (decision 87)."""
        self.pending: str | None = None
        """A rule change not followed yet: everyone follows it at the job's next run."""

    def run(self) -> dict[str, TimedStanding]:
        from tests.simulation.timed_levels import AFFILIATES

        self.standings = {affiliate: TimedStanding() for affiliate in AFFILIATES}
        for kind, at, what in self.side.log:
            if kind == "rules":
                settings, mode = what
                self.levels, self.pending = settings, mode.value if mode is not None else None
            elif kind == "event":
                self.facts.append(what)
                before, self.figures = self.figures, timed_figures(self.side, self.facts)
                for affiliate in AFFILIATES:
                    if self.figures.get(affiliate, {}) == before.get(affiliate, {}):
                        continue
                    if isinstance(what, OrderPaid):  # within the payment's budget: no assessment
                        self.owed.add(affiliate)
                    else:  # assessed right after the event
                        self.owed.discard(affiliate)
                        self.assess(affiliate, _local(at), moved=True)
            elif self.pending is not None:  # the run schedules everyone to follow the change
                for affiliate in AFFILIATES:
                    self.follow(affiliate, self.pending, _local(at))
                self.pending = None
                self.owed.clear()
            else:
                for affiliate in AFFILIATES:
                    self.assess(affiliate, _local(at), moved=affiliate in self.owed)
                self.owed.clear()
        return self.standings

    def _move(self, standing: TimedStanding, rank: int, day: date, why: str) -> None:
        if rank != standing.rank:
            standing.rank, standing.obtained = rank, day
            self.seen[why] += 1

    def follow(self, affiliate: str, mode: str, day: date) -> None:
        """A rule change, as the job's run that follows it re-levels each affiliate (no other check
        is made in that assessment)."""
        standing, days = self.standings[affiliate], self.figures.get(affiliate, {})
        if mode == "keep":
            windowed = {id(level): _in_window(days, *_period(level, day)) for level in self.levels.levels}
            standing.quota = keep_quota(self.levels, standing.rank, {}, lambda level: windowed[id(level)])
            self.seen["quota"] += bool(standing.quota)
        else:
            standing.quota = {}
            current = self.levels.level(standing.rank)
            floor = standing.rank if current.strategy.value == "manual" and standing.rank > 1 else 0
            found = _highest_met(self.levels, days, day, {}, floor, len(self.levels.levels) + 1)
            self._move(standing, found or max(floor, 1), day, "recalculated")
        standing.checked = day

    def assess(self, affiliate: str, day: date, *, moved: bool) -> None:
        standing, days, levels = self.standings[affiliate], self.figures.get(affiliate, {}), self.levels
        quota, rank = standing.quota, standing.rank
        last_look, standing.checked = standing.checked, day
        if moved:
            higher = _highest_met(levels, days, day, quota, rank, len(levels.levels) + 1)
            if higher is not None:
                self._move(standing, higher, day, "upgrade")
                return
        level = levels.level(rank)
        if rank == 1 or level.downgrade.kind.value == "none":
            return
        looked = TimedStanding(rank, standing.obtained, last_look, quota)
        for kind, first, last in _checks_due(level, looked, day):
            if not _meets(level, days, day, quota, (first, last)):
                target = level.downgrade.to_rank or rank - 1
                self._downgrade(standing, level, days, target, last, day, kind)
                return  # the first check that fails decides (kept or not)
        stacked = level.downgrade.kind.value == "threshold" or moved
        if stacked and not _meets(level, days, day, quota):
            target = _highest_met(levels, days, day, quota, 1, rank) or 1
            self._downgrade(standing, level, days, target, day, day, "threshold")

    def _downgrade(
        self,
        standing: TimedStanding,
        level: Any,
        days: Days,
        target: int,
        trigger: date,
        day: date,
        kind: str,
    ) -> None:
        if _retained(level, days, trigger):
            self.seen[f"{kind} kept by retention"] += 1
            return
        self.seen[f"{kind} downgrade" + (" (retention failed)" if level.retention else "")] += 1
        self._move(standing, target, day, kind)


def timed_levels_match_history(world: World) -> list[str]:
    """After a drain: the second tenant's levels, quotas and the day each level was obtained are
    what a replay of its history under the seed's rules gives."""
    from incentives.storage.levels import TableLevelRepository
    from tests.simulation.timed_levels import CORP

    if world.timed_levels is None:
        return []
    replay = TimedReplay(world.timed_levels)
    expected = replay.run()
    world.timed_levels.replay = dict(replay.seen)
    problems = []
    for affiliate, wanted in expected.items():
        standing = TableLevelRepository(world.table).standing(CORP, affiliate)
        since = _local(standing.since) if standing.since and standing.rank > 1 else None
        obtained = wanted.obtained if wanted.rank > 1 else None
        if (standing.rank, since) != (wanted.rank, obtained):
            problems.append(
                f"{affiliate} (timed levels): level {standing.rank} since {since}; "
                f"replaying its history gives level {wanted.rank} since {obtained}"
            )
        if standing.quota != wanted.quota:
            problems.append(
                f"{affiliate} (timed levels): quota {standing.quota}; "
                f"replaying its history gives {wanted.quota}"
            )
    return problems
