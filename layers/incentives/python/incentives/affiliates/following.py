"""``order.refunded`` and ``order.completed`` of a decided order in two round trips: the order,
its commission decision and shares, the program and the order's level figures in one batched
read, then the order, each share's take-back or hold date and the level figures in one
transaction.

A share's credit hold is known from the share itself (it holds what was credited less what was
reversed until it settles, and its settlement marks the share), so it is not read: the hold's
own conditions refuse the transaction if it moved meanwhile. Anything unusual — an order not
paid or not decided yet, a share behind on earlier refunds, a racing writer, writes that do not
fit one transaction, an event seen before — takes the general path (the aggregate, then
:func:`incentives.affiliates.lifecycle.follow_order`), which is idempotent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from incentives.affiliates.commission import Role, account, credit_id
from incentives.affiliates.lifecycle import apply_and_follow
from incentives.affiliates.ports import (
    Change,
    DecisionUnchanged,
    Earnings,
    HoldScheduled,
    LevelSource,
    OrderContext,
    OrderSaved,
    Record,
    ShareCompleted,
    Stale,
    TooLarge,
)
from incentives.affiliates.refunds import take_back_changes
from incentives.core.clock import parse_instant
from incentives.ledger.postings import Hold
from incentives.levels.assessment import Trigger
from incentives.levels.metrics import affiliates_of, deal_pending, minus, order_contributions
from incentives.levels.ports import AppliedSource
from incentives.levels.service import assess_owed, order_inputs, order_source
from incentives.orders.aggregate import AfterSalesWindow, OrderFact, OrderState, apply_fact
from incentives.webhook.models import OrderCompleted, OrderRefunded

ROLES = tuple(role.value for role in Role)


def apply_order_change(
    ports: Earnings,
    corp_id: str,
    event_id: str,
    fact: OrderFact,
    window: AfterSalesWindow,
    now: datetime,
) -> tuple[OrderState, str]:
    """Apply a refund or a completion to the order, then to its commissions (any other fact takes
    the general path)."""
    if not isinstance(fact, OrderRefunded | OrderCompleted):
        return apply_and_follow(ports, corp_id, event_id, fact, window, now)
    source = order_source(fact.order_id)
    context = ports.affiliates.order_context(corp_id, fact.order_id, ROLES, source)
    current = context.order or OrderState(corp_id=corp_id, order_id=fact.order_id)
    updated = apply_fact(current, event_id, fact, window)
    decision = context.decision
    # a decision is made only after the order was counted in the customer's activity (in the
    # payment's transaction, or before it on the general path): no activity to record here
    if updated is current or updated.paid is None or decision is None:
        return apply_and_follow(ports, corp_id, event_id, fact, window, now)
    hold_until = (
        updated.completed.completed_at + timedelta(days=context.settings.after_sales_window_days)
        if updated.completed
        else None
    )
    planned = _share_changes(corp_id, updated, decision, context, hold_until, now, ports.time_zone)
    if planned is None:
        return apply_and_follow(ports, corp_id, event_id, fact, window, now)
    changes, notes = planned
    figures, moved = _level_figures(
        updated, decision, context.level_figures, hold_until, now, ports.time_zone
    )
    try:
        guard = DecisionUnchanged(updated.order_id, decision["decided_at"])  # no late click meanwhile
        ports.affiliates.commit(corp_id, [OrderSaved(updated, current.version), guard, *changes, *figures])
    except (Stale, TooLarge):
        return apply_and_follow(ports, corp_id, event_id, fact, window, now)
    levels = ports.affiliates.levels
    notes += [f"level figures of {', '.join(moved)} moved"] if moved else []
    notes += [
        f"level {change.from_rank} → {change.to_rank}"
        for change in assess_owed(levels, corp_id, moved, now, ports.time_zone)
    ]
    return updated, "; ".join([decision["reason"], *notes])


def _share_changes(
    corp_id: str,
    state: OrderState,
    decision: Record,
    context: OrderContext,
    hold_until: datetime | None,
    now: datetime,
    time_zone: str,
) -> tuple[list[Change], list[str]] | None:
    """Each share brought in line with the order, one change of it at most; None when a share
    needs more than one (it is behind: the general path catches it up)."""
    changes: list[Change] = []
    notes: list[str] = []
    for role in decision.get("roles", []):
        share = context.shares.get(role)
        if share is None:
            continue
        pending = [refund for refund in state.refunds.values() if refund.refund_id not in share["refunds"]]
        completing = state.completed is not None and share.get("completed_at") is None
        owner = account(corp_id, share["beneficiary_id"])
        credit = credit_id(share["order_id"], share["role"])
        if len(pending) + int(completing) > 1:
            return None
        if pending:
            hold = None
            if share.get("settled_at") is None:
                remaining = int(share["amount_fen"]) - int(share["reversed_fen"])
                until = parse_instant(share["hold_until"]) if share.get("hold_until") else None
                hold = Hold(owner, credit, remaining, until)
            taken = take_back_changes(corp_id, share, pending[0], hold, now, time_zone)
            if taken is None:
                return None
            changes += taken
            notes.append(f"{role}: refund {pending[0].refund_id} applied")
        elif completing:
            assert state.completed is not None and hold_until is not None
            if share.get("settled_at") is None:
                changes.append(HoldScheduled(owner, credit, hold_until))
            changes.append(ShareCompleted(share["order_id"], role, state.completed.completed_at, hold_until))
            notes.append(f"{role}: settles after the after-sales window")
    return changes, notes


def _level_figures(
    state: OrderState,
    decision: Record,
    previous: AppliedSource | None,
    hold_until: datetime | None,
    now: datetime,
    time_zone: str,
) -> tuple[list[Change], list[str]]:
    """The order's level figures in line with its state (as ``levels.service.apply_order``
    brings them), and the affiliates whose figures moved."""
    beneficiaries = list(decision.get("beneficiaries") or [])
    buyer = decision.get("buyer_affiliate_id")
    if not beneficiaries and not buyer:
        return [], []
    inputs = order_inputs(state, previous, beneficiaries, buyer, hold_until)
    contributions = order_contributions(state, inputs, now, time_zone)
    pending = deal_pending(state, inputs, now)
    if previous is None and not contributions and pending is None:
        return [], []
    if previous is not None and (previous.applied, previous.inputs, previous.pending_until) == (
        contributions,
        inputs,
        pending,
    ):
        return [], []
    source = order_source(state.order_id)
    target = AppliedSource(source, (previous.version if previous else 0) + 1, contributions, inputs, pending)
    moved = affiliates_of(minus(contributions, previous.applied if previous else {}))
    return [LevelSource(previous, target, Trigger(source=source, at=now))], moved
