"""Commissions through an order's life (SPEC §4.4 "Lifecycle"), as ledger entries.

``follow_order`` is called with the order's state after every order event and brings the
affiliate side up to date with it, so it does not matter in which order the events came or
whether a previous run crashed half way:

1. paid → the commission decision is made once (binding at payment time) and each share is
   credited, pending, with a hold that waits for the order's completion;
2. each refund → the shares give back their pro-rata part: a reversal while pending, a
   clawback once settled (ids ``rev:`` / ``claw:`` + order, role, refund: never twice);
3. completed → each hold gets its date, completion + the program's after-sales window; the
   hourly settlement job then makes what remains withdrawable.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from incentives.affiliates import store
from incentives.affiliates.binding import bound_at
from incentives.affiliates.commission import Decision, LineShare, Promoter, Role, Share, decide, taken_back
from incentives.affiliates.membership import (
    BOUGHT_CHUNK,
    bought_writes,
    order_activity_writes,
    profile,
    promoter,
    record_bought,
    record_order,
)
from incentives.affiliates.program import ProgramSettings
from incentives.affiliates.referrals import binding_at, clicks_of
from incentives.affiliates.store import account
from incentives.core.clock import iso_utc, local_date, parse_instant
from incentives.core.errors import ConcurrentModification
from incentives.ledger import postings
from incentives.ledger.model import Entry
from incentives.levels.assessment import Trigger
from incentives.levels.metrics import OrderInputs, order_contributions
from incentives.levels.ports import AppliedSource, StoredLevels
from incentives.levels.service import apply_order, assess_owed, level_rate, order_source, rank_in_force
from incentives.orders.aggregate import AfterSalesWindow, OrderState, apply_fact
from incentives.orders.service import apply_order_event
from incentives.storage import keys
from incentives.storage import levels as level_storage
from incentives.storage.ledger import LedgerRepository, posting_writes
from incentives.storage.orders import TableOrderRepository, order_put, state_from_item
from incentives.storage.table import (
    ConditionFailed,
    Equals,
    Exists,
    NotExists,
    Put,
    Table,
    Update,
    Write,
)
from incentives.webhook.models import OrderPaid

MAX_ATTEMPTS = 5
MAX_TRANSACTION_WRITES = 100
"""DynamoDB's limit of items per transaction."""


@dataclass(frozen=True)
class AffiliateEffects:
    table: Table
    ledger: LedgerRepository
    time_zone: str


def credit_id(order_id: str, role: str) -> str:
    return f"aff:{order_id}:{role}"


def follow_order(effects: AffiliateEffects, corp_id: str, state: OrderState, now: datetime) -> str:
    """Bring commissions in line with the order's state (idempotent; see the module docstring)."""
    if state.paid is None:
        return "awaiting payment"
    table = effects.table
    record_order(table, corp_id, state.paid, now)
    decision = table.get(store.decision_key(corp_id, state.order_id))
    if decision is None:
        decision = _decide_once(effects, corp_id, state.paid, now)
    notes = [decision["reason"]]

    @cache
    def hold_until() -> datetime:
        """Completion + the program's after-sales window (read once, only if a share needs it)."""
        assert state.completed is not None
        days = store.load_settings(table, corp_id).after_sales_window_days
        return state.completed.completed_at + timedelta(days=days)

    for role in decision.get("roles", []):
        notes += _follow_share(effects, corp_id, state, role, now, hold_until)
    notes += _follow_levels(effects, corp_id, state, decision, hold_until, now)
    return "; ".join(notes)


def _follow_levels(
    effects: AffiliateEffects,
    corp_id: str,
    state: OrderState,
    decision: dict[str, Any],
    hold_until: Callable[[], datetime],
    now: datetime,
) -> list[str]:
    """The order's level figures in line with its state (seed 001 §2.3.3), then the assessments
    they make owed: the affiliates it rewarded, and the buyer if an affiliate."""
    beneficiaries = list(decision.get("beneficiaries") or [])
    buyer = decision.get("buyer_affiliate_id")
    if not beneficiaries and not buyer:
        return []
    repository = level_storage.TableLevelRepository(effects.table)
    moved = apply_order(
        repository,
        corp_id,
        state,
        beneficiaries=beneficiaries,
        buyer_affiliate_id=buyer,
        deal_at=hold_until() if state.completed is not None else None,
        now=now,
        time_zone=effects.time_zone,
    )
    changes = assess_owed(repository, corp_id, moved, now, effects.time_zone)
    notes = [f"level figures of {', '.join(moved)} moved"] if moved else []
    return notes + [f"level {change.from_rank} → {change.to_rank}" for change in changes]


def apply_payment(
    effects: AffiliateEffects,
    corp_id: str,
    event_id: str,
    order: OrderPaid,
    window: AfterSalesWindow,
    now: datetime,
) -> tuple[OrderState, str]:
    """``order.paid`` in three round trips (SPEC §6): the context in two batched reads, then the
    order, the customer's activity and the commission decision in one transaction.

    Anything unusual — decided before, a racing writer, an order too large for one transaction
    — takes the general path (:func:`follow_order` after the aggregate), which is idempotent.
    """
    table = effects.table
    source = order.source.affiliate_id if order.source.affiliate_id != order.customer_id else None
    first = table.get_many(
        [
            keys.order_key(corp_id, order.order_id),
            store.decision_key(corp_id, order.order_id),
            store.settings_key(corp_id),
            store.profile_key(corp_id, order.customer_id),
            store.binding_key(corp_id, order.customer_id),
            store.activity_marker_key(corp_id, order.customer_id, f"order:{order.order_id}"),
            level_storage.settings_key(corp_id),
            level_storage.state_key(corp_id, order.customer_id),
            level_storage.source_key(corp_id, order_source(order.order_id)),
            *([store.profile_key(corp_id, source)] if source else []),
        ]
    )
    stored, decided, settings_item, buyer_item, binding, counted = first[:6]
    levels_item, buyer_level, level_record = first[6:9]
    current = state_from_item(stored) if stored else OrderState(corp_id=corp_id, order_id=order.order_id)
    updated = apply_fact(current, event_id, order, window)
    if decided is not None or level_record is not None or updated is current or updated.paid != order:
        # decided before, seen before, or another payment of this order came first (it stands)
        return _general(effects, corp_id, event_id, order, window, now)
    settings = ProgramSettings.model_validate(settings_item["value"]) if settings_item else ProgramSettings()
    levels = level_storage.stored_levels_from_item(levels_item)
    buyer = _buyer(buyer_item, order, settings)
    bound_id = (
        None
        if buyer
        else bound_at(clicks_of(binding), settings.binding_mode, settings.binding_days, order.paid_at)
    )
    uplines: dict[str, str | None] = dict((binding or {}).get("uplines", {}))
    if bound_id is None and buyer is None and source:
        bound_id = source  # no binding: the link the order came through
        source_item = _active(first[9], settings)
        uplines[source] = source_item.upline_id if source_item else None
    upline_id = buyer.upline_id if buyer else uplines.get(bound_id) if bound_id else None
    wanted = [who for who in (bound_id, upline_id) if who]
    got = table.get_many(
        [
            *(store.profile_key(corp_id, who) for who in wanted),
            *([level_storage.state_key(corp_id, bound_id)] if bound_id else []),
        ]
    )
    second = dict(zip(wanted, got[: len(wanted)], strict=True))
    ranks: dict[str, int | None] = {}
    if buyer is not None:
        ranks[buyer.affiliate_id] = _rank_at_payment(corp_id, buyer.affiliate_id, buyer_level, order)
    if bound_id:
        ranks[bound_id] = _rank_at_payment(corp_id, bound_id, got[-1], order)
    if None in ranks.values():  # a level changed since the payment: the general path reads its history
        return _general(effects, corp_id, event_id, order, window, now)
    buyer = _leveled(buyer, ranks.get(order.customer_id), levels)
    bound = _leveled(_active(second.get(bound_id), settings), ranks[bound_id], levels) if bound_id else None
    earner = buyer or bound
    if earner is not None and earner.upline_id != upline_id:  # an older binding without its upline
        upline = _promoter_of(table, corp_id, earner.upline_id, settings)
    else:
        upline = _active(second.get(upline_id), settings) if upline_id else None
    decision = decide(settings, order, buyer=buyer, bound=bound, upline=upline)
    writes: list[Write] = [order_put(updated, current.version)]
    if counted is None:
        bought = bought_writes(corp_id, order)
        if len(bought) > BOUGHT_CHUNK:  # a large basket: its products first, on their own
            record_bought(table, corp_id, order)
            bought = []
        writes += [*order_activity_writes(corp_id, order, now), *bought]
    writes += decision_writes(effects, corp_id, order, decision, now, buyer=buyer, earner=earner)
    writes += _payment_figures(effects, corp_id, event_id, updated, decision, buyer, now)
    if len(writes) > MAX_TRANSACTION_WRITES:
        return _general(effects, corp_id, event_id, order, window, now)
    try:
        table.transact(writes)
    except ConditionFailed:
        return _general(effects, corp_id, event_id, order, window, now)
    if updated.refunds or updated.completed:  # refunds or a completion came before the payment
        return updated, follow_order(effects, corp_id, updated, now)
    return updated, decision.reason


def _rank_at_payment(corp_id: str, who: str, item: dict[str, Any] | None, order: OrderPaid) -> int | None:
    """The affiliate's rank at payment from their standing, None if it changed since the payment."""
    standing = level_storage.standing_from_item(corp_id, who, item)
    if standing.version <= 1 or standing.since is None or standing.since <= order.paid_at:
        return standing.rank  # never changed, or not since the payment
    return None


def _leveled(promoter: Promoter | None, rank: int | None, levels: StoredLevels | None) -> Promoter | None:
    """The promoter with the rate of their level (product override > level rate > program rate)."""
    if promoter is None or levels is None or rank is None:
        return promoter
    return replace(promoter, level_rank=rank, level_rate_bp=level_rate(levels, rank))


def _payment_figures(
    effects: AffiliateEffects,
    corp_id: str,
    event_id: str,
    state: OrderState,
    decision: Decision,
    buyer: Promoter | None,
    now: datetime,
) -> list[Write]:
    """The order's first level figures, in the payment's transaction (the assessments they make
    owed follow from the queue, keeping ``order.paid`` within its three round trips)."""
    inputs = OrderInputs(
        beneficiaries=tuple(sorted({share.beneficiary_id for share in decision.shares})),
        buyer_affiliate_id=buyer.affiliate_id if buyer else None,
    )
    figures = order_contributions(state, inputs, now, effects.time_zone)
    if not figures:
        return []
    source = order_source(state.order_id)
    record = AppliedSource(source, 1, figures, inputs)
    return level_storage.source_writes(
        corp_id, None, record, Trigger(source=source, event_id=event_id, at=now)
    )


def _general(
    effects: AffiliateEffects,
    corp_id: str,
    event_id: str,
    fact: OrderPaid,
    window: AfterSalesWindow,
    now: datetime,
) -> tuple[OrderState, str]:
    state = apply_order_event(TableOrderRepository(effects.table), corp_id, event_id, fact, window)
    return state, follow_order(effects, corp_id, state, now)


def _active(item: dict[str, Any] | None, settings: ProgramSettings) -> Promoter | None:
    return promoter(item, settings) if item and item.get("status") == "active" else None


def _buyer(item: dict[str, Any] | None, order: OrderPaid, settings: ProgramSettings) -> Promoter | None:
    """The buyer as an affiliate, if they were one when they paid (joining later changes nothing)."""
    if item is None or parse_instant(item["joined_at"]) > order.paid_at:
        return None
    return _active(item, settings)


def attribute_late_click(
    effects: AffiliateEffects, corp_id: str, customer_id: str, clicked_at: datetime, now: datetime
) -> list[str]:
    """Orders of ``customer_id`` paid after ``clicked_at`` that were decided with nobody bound
    (the click arrived late) are decided again, now that the binding at their payment is known.

    Only such orders: they carry no share, so nothing is taken back. Returns the orders attributed.
    """
    table = effects.table
    attributed = []
    unattributed = store.query_all(
        table, store.own_list(corp_id, "AFF_UNATTRIBUTED", customer_id), index="gsi3", newest_first=False
    )
    candidates = [old for old in unattributed if parse_instant(old["paid_at"]) >= clicked_at]
    settings = store.load_settings(table, corp_id) if candidates else ProgramSettings()
    for old in candidates:
        state = TableOrderRepository(table).get(corp_id, old["order_id"])
        if state is None or state.paid is None:
            continue
        buyer, bound, upline = attribute(table, corp_id, settings, state.paid)
        decision = decide(settings, state.paid, buyer=buyer, bound=bound, upline=upline)
        if decision.awaits_binding:
            continue
        writes = decision_writes(
            effects, corp_id, state.paid, decision, now, replaces=old, buyer=buyer, earner=buyer or bound
        )
        try:
            table.transact(writes)
        except ConditionFailed:
            continue  # decided again meanwhile
        follow_order(effects, corp_id, state, now)  # refunds or a completion that came meanwhile
        attributed.append(state.order_id)
    return attributed


def _promoter_of(
    table: Table, corp_id: str, affiliate_id: str | None, settings: ProgramSettings
) -> Promoter | None:
    if not affiliate_id:
        return None
    item = profile(table, corp_id, affiliate_id)
    return promoter(item, settings) if item else None


def attribute(
    table: Table, corp_id: str, settings: ProgramSettings, order: OrderPaid
) -> tuple[Promoter | None, Promoter | None, Promoter | None]:
    """(buyer if an affiliate, the affiliate bound at payment, the upline of whoever earns)."""
    buyer = _buyer(profile(table, corp_id, order.customer_id), order, settings)
    bound_id = binding_at(table, corp_id, settings, order.customer_id, order.paid_at)
    if bound_id is None and order.source.affiliate_id and order.source.affiliate_id != order.customer_id:
        bound_id = order.source.affiliate_id  # no binding: the link the order came through
    bound = _promoter_of(table, corp_id, bound_id, settings) if buyer is None else None
    earner = buyer or bound
    upline = _promoter_of(table, corp_id, earner.upline_id, settings) if earner else None
    if earner is not None:
        repository = level_storage.TableLevelRepository(table)
        levels = repository.settings(corp_id)
        rank = rank_in_force(repository, repository.standing(corp_id, earner.affiliate_id), order.paid_at)
        buyer, bound = _leveled(buyer, rank, levels), _leveled(bound, rank, levels)
    return buyer, bound, upline


def _decide_once(effects: AffiliateEffects, corp_id: str, order: OrderPaid, now: datetime) -> dict[str, Any]:
    table = effects.table
    settings = store.load_settings(table, corp_id)
    buyer, bound, upline = attribute(table, corp_id, settings, order)
    decision = decide(settings, order, buyer=buyer, bound=bound, upline=upline)
    writes = decision_writes(effects, corp_id, order, decision, now, buyer=buyer, earner=buyer or bound)
    with contextlib.suppress(ConditionFailed):  # decided meanwhile by a redelivery: theirs stands
        table.transact(writes)
    found = table.get(store.decision_key(corp_id, order.order_id))
    if found is None:
        raise ConcurrentModification(f"commission of order {order.order_id} is being decided, retry later")
    return found


def decision_writes(
    effects: AffiliateEffects,
    corp_id: str,
    order: OrderPaid,
    decision: Decision,
    now: datetime,
    replaces: dict[str, Any] | None = None,
    *,
    buyer: Promoter | None = None,
    earner: Promoter | None = None,
) -> list[Write]:
    """The decision (``attribute_not_exists``: made once), its shares, credits, holds and figures.

    ``replaces`` is an earlier decision that attributed the order to nobody; the new one takes
    its place only if it is still that one. ``buyer`` is the buyer if an affiliate at payment
    (their own purchase counts in their level figures); ``earner`` whoever earns the commission,
    whose level and its rate at payment the decision keeps (a later level change re-prices nothing).
    """
    paid_at = iso_utc(order.paid_at)
    day = local_date(order.paid_at, effects.time_zone).isoformat()
    payable = sum(line.payable_fen for line in order.lines)
    item = {
        **store.decision_key(corp_id, order.order_id),
        "kind": "commission_decision",
        "order_id": order.order_id,
        "customer_id": order.customer_id,
        "affiliate_id": decision.affiliate_id,
        "reason": decision.reason,
        "roles": [share.role.value for share in decision.shares],
        "paid_at": paid_at,
        "decided_at": iso_utc(now),
        "beneficiaries": sorted({share.beneficiary_id for share in decision.shares}),
        "buyer_affiliate_id": buyer.affiliate_id if buyer else None,
        "level_rank": earner.level_rank if earner else None,
        "level_rate_bp": earner.level_rate_bp if earner else None,
    }
    if decision.awaits_binding:
        item["gsi3pk"] = store.own_list(corp_id, "AFF_UNATTRIBUTED", order.customer_id)
        item["gsi3sk"] = f"{paid_at}#{order.order_id}"
    guard = (NotExists(),) if replaces is None else (Equals("decided_at", replaces["decided_at"]),)
    writes: list[Write] = [Put(item, guard)]
    credits: list[Entry] = []
    for share in decision.shares:
        owner = account(corp_id, share.beneficiary_id)
        entry = postings.credit(
            owner,
            credit_id(order.order_id, share.role.value),
            share.amount_fen,
            order.paid_at,
            note=share.role.value,
        )
        credits.append(entry)
        key = store.share_key(corp_id, order.order_id, share.role.value)
        writes.append(
            Put(_share_item(corp_id, order, share, decision.affiliate_id, payable, key), (NotExists(),))
        )
        writes += effects.ledger.open_hold(entry, None, record_key=(key["pk"], key["sk"]))
        counters = {"receivable_fen": payable, "paid_orders": 1, "issued_fen": share.amount_fen}
        if share.role is Role.COMMISSION:
            counters["promoted_orders"] = 1
        writes.append(store.stats_add(corp_id, share.beneficiary_id, counters, now))
        writes.append(store.day_add(corp_id, share.beneficiary_id, day, {"issued_fen": share.amount_fen}))
    return [*writes, *posting_writes(credits, order.paid_at)]


def _share_item(
    corp_id: str, order: OrderPaid, share: Share, affiliate_id: str | None, payable: int, key: dict[str, str]
) -> dict[str, Any]:
    paid_at = iso_utc(order.paid_at)
    return {
        **key,
        "kind": "commission_share",
        "order_id": order.order_id,
        "role": share.role.value,
        "beneficiary_id": share.beneficiary_id,
        "affiliate_id": affiliate_id,
        "customer_id": order.customer_id,
        "store_id": order.store_id,
        "group_buy": order.is_group_buy,
        "paid_at": paid_at,
        "payable_fen": payable,
        "paid_fen": sum(line.paid_fen for line in order.lines),
        "lines": [line.__dict__ for line in share.lines],
        "amount_fen": share.amount_fen,
        "reversed_fen": 0,
        "clawed_back_fen": 0,
        "refunds": {},
        "version": 1,
        "completed_at": None,
        "hold_until": None,
        "settled_at": None,
        "gsi2pk": store.tenant_list(corp_id, "AFF_SHARES"),
        "gsi2sk": f"{paid_at}#{order.order_id}#{share.role.value}",
        "gsi3pk": store.own_list(corp_id, "AFF_SHARES", share.beneficiary_id),
        "gsi3sk": f"{paid_at}#{order.order_id}#{share.role.value}",
    }


def share_lines(item: dict[str, Any]) -> tuple[LineShare, ...]:
    return tuple(LineShare(**line) for line in item["lines"])


def _follow_share(
    effects: AffiliateEffects,
    corp_id: str,
    state: OrderState,
    role: str,
    now: datetime,
    hold_until: Callable[[], datetime],
) -> list[str]:
    notes: list[str] = []
    ordered = sorted(state.refunds.values(), key=lambda r: (r.refunded_at, r.refund_id))
    for _attempt in range(MAX_ATTEMPTS * (len(ordered) + 1)):
        share = effects.table.get(store.share_key(corp_id, state.order_id, role))
        if share is None:
            return notes
        pending = [refund for refund in ordered if refund.refund_id not in share["refunds"]]
        if pending:
            if _take_back(effects, corp_id, share, pending[0], now):
                notes.append(f"{role}: refund {pending[0].refund_id} applied")
            continue
        if state.completed is not None and share.get("completed_at") is None:
            _schedule(effects, corp_id, state, share, hold_until())
            notes.append(f"{role}: settles after the after-sales window")
            continue
        return notes
    raise ConcurrentModification(
        f"commission of order {state.order_id}: too many concurrent changes, retry later"
    )


def _take_back(
    effects: AffiliateEffects, corp_id: str, share: dict[str, Any], refund: Any, now: datetime
) -> bool:
    """Apply one refund to one share; False when a concurrent change made the caller re-read."""
    lines = share_lines(share)
    line_ids = {line.line_id for line in lines}
    refunded: dict[str, int] = {}
    for applied in [
        *share["refunds"].values(),
        {"lines": {line.line_id: line.refund_fen for line in refund.lines}},
    ]:
        for line_id, fen in applied["lines"].items():
            if line_id in line_ids:
                refunded[line_id] = refunded.get(line_id, 0) + int(fen)
    taken = int(share["reversed_fen"]) + int(share["clawed_back_fen"])
    amount = taken_back(lines, refunded) - taken
    owner = account(corp_id, share["beneficiary_id"])
    credit = credit_id(share["order_id"], share["role"])
    hold = effects.ledger.hold(owner, credit)
    day = local_date(refund.refunded_at, effects.time_zone).isoformat()
    record = {
        "lines": {line.line_id: line.refund_fen for line in refund.lines},
        "amount_fen": amount,
        "at": iso_utc(refund.refunded_at),
    }
    share_update: dict[str, Any] = {
        "refunds": {**share["refunds"], refund.refund_id: {**record, "kind": "none"}},
        "version": int(share["version"]) + 1,
    }
    writes: list[Write] = []
    entries: list[Entry] = []
    if hold is not None and amount > hold.remaining_fen:
        return False  # another worker took back part of it meanwhile: read the share again
    if amount > 0 and hold is not None:
        entry = postings.reversal(
            hold,
            f"rev:{share['order_id']}:{share['role']}:{refund.refund_id}",
            amount,
            refund.refunded_at,
            note="refund",
        )
        entries.append(entry)
        writes.append(effects.ledger.hold_reduction(entry))
        share_update["reversed_fen"] = int(share["reversed_fen"]) + amount
        share_update["refunds"][refund.refund_id]["kind"] = "reversal"
    elif amount > 0:
        entries.append(
            postings.clawback(
                owner,
                credit,
                f"claw:{share['order_id']}:{share['role']}:{refund.refund_id}",
                amount,
                refund.refunded_at,
                note="refund after settlement",
            )
        )
        share_update["clawed_back_fen"] = int(share["clawed_back_fen"]) + amount
        share_update["refunds"][refund.refund_id]["kind"] = "clawback"
    key = store.share_key(corp_id, share["order_id"], share["role"])
    writes.append(Update(key, set=share_update, conditions=(Equals("version", share["version"]),)))
    if amount > 0:
        writes.append(store.day_add(corp_id, share["beneficiary_id"], day, {"returned_fen": amount}))
        writes.append(store.stats_add(corp_id, share["beneficiary_id"], {"returned_fen": amount}, now))
    try:
        return effects.ledger.post(entries, refund.refunded_at, extra=writes)
    except ConditionFailed:
        return False  # the share or the hold changed meanwhile


def _schedule(
    effects: AffiliateEffects, corp_id: str, state: OrderState, share: dict[str, Any], hold_until: datetime
) -> None:
    assert state.completed is not None
    owner = account(corp_id, share["beneficiary_id"])
    effects.ledger.schedule(owner, credit_id(share["order_id"], share["role"]), hold_until)
    effects.table.transact(
        [
            Update(
                store.share_key(corp_id, share["order_id"], share["role"]),
                set={
                    "completed_at": iso_utc(state.completed.completed_at),
                    "hold_until": iso_utc(hold_until),
                },
                conditions=(Exists(),),
            )
        ]
    )
