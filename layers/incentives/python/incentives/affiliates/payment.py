"""``order.paid`` in three round trips (SPEC §6): the context in two batched reads, then the
order, the customer's activity and the commission decision in one transaction.

Anything unusual — decided before, a racing writer, an order too large for one transaction —
takes the general path (:func:`incentives.affiliates.lifecycle.follow_order` after the
aggregate), which is idempotent.
"""

from __future__ import annotations

from datetime import datetime

from incentives.affiliates.activity import BOUGHT_INLINE, order_counted, products_bought, record_bought
from incentives.affiliates.attribution import active, buyer_promoter, decision_changes, leveled, promoter_of
from incentives.affiliates.binding import bound_at
from incentives.affiliates.bound_customers import clicks_of
from incentives.affiliates.commission import Decision, Promoter, decide
from incentives.affiliates.lifecycle import apply_and_follow, follow_order
from incentives.affiliates.ports import Change, Earnings, LevelSource, OrderSaved, Stale, TooLarge
from incentives.levels.assessment import Trigger
from incentives.levels.metrics import OrderInputs, order_contributions
from incentives.levels.ports import AppliedSource, Standing, StoredLevels
from incentives.levels.service import current_rank, order_source
from incentives.orders.aggregate import AfterSalesWindow, OrderState, apply_fact
from incentives.webhook.models import OrderPaid


def apply_payment(
    ports: Earnings,
    corp_id: str,
    event_id: str,
    order: OrderPaid,
    window: AfterSalesWindow,
    now: datetime,
) -> tuple[OrderState, str]:
    """Apply ``order.paid`` to the order and decide its commissions (see the module docstring)."""
    affiliates = ports.affiliates
    source = order.source.affiliate_id if order.source.affiliate_id != order.customer_id else None
    context = affiliates.payment_context(
        corp_id, order.order_id, order.customer_id, source, order_source(order.order_id)
    )
    current = context.order or OrderState(corp_id=corp_id, order_id=order.order_id)
    updated = apply_fact(current, event_id, order, window)
    if context.decided or context.level_figures_seen or updated is current or updated.paid != order:
        # decided before, seen before, or another payment of this order came first (it stands)
        return apply_and_follow(ports, corp_id, event_id, order, window, now)
    settings, levels = context.settings, context.levels
    buyer = buyer_promoter(context.buyer, order, settings)
    bound_id = (
        None
        if buyer
        else bound_at(clicks_of(context.binding), settings.binding_mode, settings.binding_days, order.paid_at)
    )
    uplines: dict[str, str | None] = dict((context.binding or {}).get("uplines", {}))
    if bound_id is None and buyer is None and source:
        source_promoter = active(context.source, settings)
        # no binding: the link the order came through, unless its owner (read with the context) is
        # no active affiliate: then nobody is bound, and nothing more is read
        bound_id = source if source_promoter else None
        uplines[source] = source_promoter.upline_id if source_promoter else None
    upline_id = buyer.upline_id if buyer else uplines.get(bound_id) if bound_id else None
    wanted = [who for who in (bound_id, upline_id) if who]
    second, bound_standing = affiliates.promoters(corp_id, wanted, bound_id) if wanted else ({}, None)
    ranks: dict[str, int | None] = {}
    if buyer is not None:
        ranks[buyer.affiliate_id] = _rank_at_payment(context.buyer_standing, order, levels)
    if bound_id and bound_standing is not None:
        ranks[bound_id] = _rank_at_payment(bound_standing, order, levels)
    if None in ranks.values():  # a level changed since the payment: the general path reads its history
        return apply_and_follow(ports, corp_id, event_id, order, window, now)
    buyer = leveled(buyer, ranks.get(order.customer_id), levels)
    bound = leveled(active(second.get(bound_id), settings), ranks[bound_id], levels) if bound_id else None
    earner = buyer or bound
    if earner is not None and earner.upline_id != upline_id:  # an older binding without its upline
        upline = promoter_of(affiliates, corp_id, earner.upline_id, settings)
    else:
        upline = active(second.get(upline_id), settings) if upline_id else None
    decision = decide(settings, order, buyer=buyer, bound=bound, upline=upline)
    changes: list[Change] = [OrderSaved(updated, current.version)]
    if not context.counted:
        bought = products_bought(order)
        if sum(len(chunk.product_ids) for chunk in bought) > BOUGHT_INLINE:  # a large basket: first
            record_bought(affiliates, corp_id, bought)
            bought = []
        changes += [order_counted(order, now), *bought]
    changes += decision_changes(ports, corp_id, order, decision, now, buyer=buyer, earner=earner)
    changes += _payment_figures(ports, event_id, updated, decision, buyer, now)
    try:
        affiliates.commit(corp_id, changes)
    except (Stale, TooLarge):
        return apply_and_follow(ports, corp_id, event_id, order, window, now)
    if updated.refunds or updated.completed:  # refunds or a completion came before the payment
        return updated, follow_order(ports, corp_id, updated, now)
    return updated, decision.reason


def _rank_at_payment(standing: Standing, order: OrderPaid, levels: StoredLevels | None) -> int | None:
    """The affiliate's rank at payment from their standing (as the levels are numbered now), None
    if it changed since the payment."""
    if standing.version <= 1 or standing.since is None or standing.since <= order.paid_at:
        return current_rank(levels, standing)  # never changed, or not since the payment
    return None


def _payment_figures(
    ports: Earnings,
    event_id: str,
    state: OrderState,
    decision: Decision,
    buyer: Promoter | None,
    now: datetime,
) -> list[Change]:
    """The order's first level figures, in the payment's transaction (the assessments they make
    owed follow from the queue, keeping ``order.paid`` within its three round trips)."""
    inputs = OrderInputs(
        beneficiaries=tuple(sorted({share.beneficiary_id for share in decision.shares})),
        buyer_affiliate_id=buyer.affiliate_id if buyer else None,
    )
    figures = order_contributions(state, inputs, now, ports.time_zone)
    if not figures:
        return []
    source = order_source(state.order_id)
    record = AppliedSource(source, 1, figures, inputs)
    return [LevelSource(None, record, Trigger(source=source, event_id=event_id, at=now))]
