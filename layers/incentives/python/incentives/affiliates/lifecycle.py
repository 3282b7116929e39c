"""Commissions through an order's life (SPEC §4.4 "Lifecycle"), as ledger entries.

:func:`follow_order` is called with the order's state after every order event and brings the
affiliate side up to date with it, so it does not matter in which order the events came or
whether a previous run crashed half way:

1. paid → the commission decision is made once (binding at payment time) and each share is
   credited, pending, with a hold that waits for the order's completion;
2. each refund → the shares give back their pro-rata part (:mod:`.refunds`);
3. completed → each hold gets its date, completion + the program's after-sales window; the
   hourly settlement job then makes what remains withdrawable.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache

from incentives.affiliates import refunds
from incentives.affiliates.activity import record_order
from incentives.affiliates.attribution import decide_once
from incentives.affiliates.commission import account, credit_id
from incentives.affiliates.ports import Earnings, Record, ShareCompleted
from incentives.core.errors import ConcurrentModification
from incentives.levels.service import apply_order, assess_owed
from incentives.orders.aggregate import AfterSalesWindow, OrderFact, OrderState
from incentives.orders.service import apply_order_event

MAX_ATTEMPTS = 5


def apply_and_follow(
    ports: Earnings, corp_id: str, event_id: str, fact: OrderFact, window: AfterSalesWindow, now: datetime
) -> tuple[OrderState, str]:
    """The general path of any order fact: the order aggregate, then its commissions follow."""
    state = apply_order_event(ports.orders, corp_id, event_id, fact, window)
    return state, follow_order(ports, corp_id, state, now)


def follow_order(ports: Earnings, corp_id: str, state: OrderState, now: datetime) -> str:
    """Bring commissions in line with the order's state (idempotent; see the module docstring)."""
    if state.paid is None:
        return "awaiting payment"
    affiliates = ports.affiliates
    record_order(affiliates, corp_id, state.paid, now)
    decision = affiliates.decision(corp_id, state.order_id)
    if decision is None:
        decision = decide_once(ports, corp_id, state.paid, now)
    notes = [decision["reason"]]

    @cache
    def hold_until() -> datetime:
        """Completion + the program's after-sales window (read once, only if a share needs it)."""
        assert state.completed is not None
        days = affiliates.settings(corp_id).after_sales_window_days
        return state.completed.completed_at + timedelta(days=days)

    for role in decision.get("roles", []):
        notes += _follow_share(ports, corp_id, state, role, now, hold_until)
    notes += _follow_levels(ports, corp_id, state, decision, hold_until, now)
    return "; ".join(notes)


def _follow_levels(
    ports: Earnings,
    corp_id: str,
    state: OrderState,
    decision: Record,
    hold_until: Callable[[], datetime],
    now: datetime,
) -> list[str]:
    """The order's level figures in line with its state (seed 001 §2.3.3), then the assessments
    they make owed: the affiliates it rewarded, and the buyer if an affiliate."""
    beneficiaries = list(decision.get("beneficiaries") or [])
    buyer = decision.get("buyer_affiliate_id")
    if not beneficiaries and not buyer:
        return []
    levels = ports.affiliates.levels
    moved = apply_order(
        levels,
        corp_id,
        state,
        beneficiaries=beneficiaries,
        buyer_affiliate_id=buyer,
        deal_at=hold_until() if state.completed is not None else None,
        now=now,
        time_zone=ports.time_zone,
    )
    changes = assess_owed(levels, corp_id, moved, now, ports.time_zone)
    notes = [f"level figures of {', '.join(moved)} moved"] if moved else []
    return notes + [f"level {change.from_rank} → {change.to_rank}" for change in changes]


def _follow_share(
    ports: Earnings,
    corp_id: str,
    state: OrderState,
    role: str,
    now: datetime,
    hold_until: Callable[[], datetime],
) -> list[str]:
    notes: list[str] = []
    ordered = sorted(state.refunds.values(), key=lambda r: (r.refunded_at, r.refund_id))
    for _attempt in range(MAX_ATTEMPTS * (len(ordered) + 1)):
        share = ports.affiliates.share(corp_id, state.order_id, role)
        if share is None:
            return notes
        pending = [refund for refund in ordered if refund.refund_id not in share["refunds"]]
        if pending:
            if refunds.take_back(ports, corp_id, share, pending[0], now):
                notes.append(f"{role}: refund {pending[0].refund_id} applied")
            continue
        if state.completed is not None and share.get("completed_at") is None:
            _schedule(ports, corp_id, state, share, hold_until())
            notes.append(f"{role}: settles after the after-sales window")
            continue
        return notes
    raise ConcurrentModification(
        f"commission of order {state.order_id}: too many concurrent changes, retry later"
    )


def _schedule(ports: Earnings, corp_id: str, state: OrderState, share: Record, hold_until: datetime) -> None:
    """The order completed: the share's hold settles at ``hold_until``."""
    assert state.completed is not None
    owner = account(corp_id, share["beneficiary_id"])
    ports.ledger.schedule(owner, credit_id(share["order_id"], share["role"]), hold_until)
    completed = ShareCompleted(share["order_id"], share["role"], state.completed.completed_at, hold_until)
    ports.affiliates.commit(corp_id, [completed])
