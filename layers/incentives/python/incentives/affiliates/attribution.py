"""Who earns on a paid order (SPEC §4.4 "Binding", "Commission"): the buyer if an affiliate when
they paid, else the affiliate bound at payment (else the link the order came through), and the
upline of whoever earns; each at the level in force at payment. The decision is made once."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import datetime

from incentives.affiliates.bound_customers import binding_at
from incentives.affiliates.commission import Decision, Promoter, Role, account, credit_id, decide
from incentives.affiliates.ports import (
    AffiliateRepository,
    Change,
    CommissionDecided,
    Earnings,
    FiguresAdded,
    Record,
    Stale,
)
from incentives.affiliates.profiles import profile, promoter
from incentives.affiliates.program import ProgramSettings
from incentives.core.clock import local_date, parse_instant
from incentives.core.errors import ConcurrentModification
from incentives.ledger import postings
from incentives.levels.ports import StoredLevels
from incentives.levels.service import level_rate, rank_in_force
from incentives.webhook.models import OrderPaid


def active(item: Record | None, settings: ProgramSettings) -> Promoter | None:
    return promoter(item, settings) if item and item.get("status") == "active" else None


def buyer_promoter(item: Record | None, order: OrderPaid, settings: ProgramSettings) -> Promoter | None:
    """The buyer as an affiliate, if they were one when they paid (joining later changes nothing)."""
    if item is None or parse_instant(item["joined_at"]) > order.paid_at:
        return None
    return active(item, settings)


def leveled(promoter: Promoter | None, rank: int | None, levels: StoredLevels | None) -> Promoter | None:
    """The promoter with the rate of their level (product override > level rate > program rate)."""
    if promoter is None or levels is None or rank is None:
        return promoter
    return replace(promoter, level_rank=rank, level_rate_bp=level_rate(levels, rank))


def promoter_of(
    affiliates: AffiliateRepository, corp_id: str, affiliate_id: str | None, settings: ProgramSettings
) -> Promoter | None:
    if not affiliate_id:
        return None
    item = profile(affiliates, corp_id, affiliate_id)
    return promoter(item, settings) if item else None


def attribute(
    affiliates: AffiliateRepository, corp_id: str, settings: ProgramSettings, order: OrderPaid
) -> tuple[Promoter | None, Promoter | None, Promoter | None]:
    """(buyer if an affiliate, the affiliate bound at payment, the upline of whoever earns)."""
    buyer = buyer_promoter(profile(affiliates, corp_id, order.customer_id), order, settings)
    bound_id = binding_at(affiliates, corp_id, settings, order.customer_id, order.paid_at)
    if bound_id is None and order.source.affiliate_id and order.source.affiliate_id != order.customer_id:
        bound_id = order.source.affiliate_id  # no binding: the link the order came through
    bound = promoter_of(affiliates, corp_id, bound_id, settings) if buyer is None else None
    earner = buyer or bound
    upline = promoter_of(affiliates, corp_id, earner.upline_id, settings) if earner else None
    if earner is not None:
        levels = affiliates.levels
        stored = levels.settings(corp_id)
        rank = rank_in_force(levels, levels.standing(corp_id, earner.affiliate_id), order.paid_at, stored)
        buyer, bound = leveled(buyer, rank, stored), leveled(bound, rank, stored)
    return buyer, bound, upline


def decide_once(ports: Earnings, corp_id: str, order: OrderPaid, now: datetime) -> Record:
    """The order's commission decision: made now unless it was made before (theirs stands)."""
    affiliates = ports.affiliates
    settings = affiliates.settings(corp_id)
    buyer, bound, upline = attribute(affiliates, corp_id, settings, order)
    decision = decide(settings, order, buyer=buyer, bound=bound, upline=upline)
    changes = decision_changes(ports, corp_id, order, decision, now, buyer=buyer, earner=buyer or bound)
    with contextlib.suppress(Stale):  # decided meanwhile by a redelivery: theirs stands
        affiliates.commit(corp_id, changes)
    found = affiliates.decision(corp_id, order.order_id)
    if found is None:
        raise ConcurrentModification(f"commission of order {order.order_id} is being decided, retry later")
    return found


def decision_changes(
    ports: Earnings,
    corp_id: str,
    order: OrderPaid,
    decision: Decision,
    now: datetime,
    replaces: Record | None = None,
    *,
    buyer: Promoter | None = None,
    earner: Promoter | None = None,
) -> list[Change]:
    """The decision (made once), its shares with their pending credits, and the figures they move.

    ``replaces`` is an earlier decision that attributed the order to nobody; the new one takes
    its place only if it is still that one. ``buyer`` is the buyer if an affiliate at payment
    (their own purchase counts in their level figures); ``earner`` whoever earns the commission,
    whose level and its rate at payment the decision keeps (a later level change re-prices nothing).
    """
    day = local_date(order.paid_at, ports.time_zone).isoformat()
    payable = sum(line.payable_fen for line in order.lines)
    credits = tuple(
        postings.credit(
            account(corp_id, share.beneficiary_id),
            credit_id(order.order_id, share.role.value),
            share.amount_fen,
            order.paid_at,
            note=share.role.value,
        )
        for share in decision.shares
    )
    changes: list[Change] = [
        CommissionDecided(
            order=order,
            decision=decision,
            decided_at=now,
            day=day,
            credits=credits,
            buyer_affiliate_id=buyer.affiliate_id if buyer else None,
            level_rank=earner.level_rank if earner else None,
            level_rate_bp=earner.level_rate_bp if earner else None,
            replaces_decided_at=replaces["decided_at"] if replaces else None,
        )
    ]
    for share in decision.shares:
        counters = {"receivable_fen": payable, "paid_orders": 1, "issued_fen": share.amount_fen}
        if share.role is Role.COMMISSION:
            counters["promoted_orders"] = 1
        changes.append(
            FiguresAdded(
                share.beneficiary_id,
                now,
                counters,
                day,
                {"issued_fen": share.amount_fen},
                spread_by=order.order_id,
            )
        )
    return changes
