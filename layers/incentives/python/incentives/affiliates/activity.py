"""Customers' activity, which the application conditions are checked against (seed 001 §2.2):
paid orders, products bought, recharges, the official account, identities and tags, and the
members an affiliate invited. The event processor records them, each source once."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from incentives.affiliates.application import CustomerActivity, evaluate
from incentives.affiliates.ports import (
    ActivityCounted,
    ActivitySet,
    AffiliateRepository,
    Change,
    FiguresAdded,
    InvitedMember,
    LevelFigures,
    ProductsBought,
    Stale,
)
from incentives.affiliates.profiles import profile
from incentives.affiliates.program import ProgramSettings
from incentives.core.clock import DEFAULT_TIME_ZONE, parse_instant
from incentives.levels.assessment import Trigger
from incentives.levels.metrics import Metric, one
from incentives.levels.service import assess_owed

BOUGHT_CHUNK = 100
"""Products recorded per transaction (DynamoDB's limit on a transaction's items; each marker is
about 150 bytes, far under its 4 MB), so an order of any size takes as few as it can."""

BOUGHT_INLINE = 25
"""Products that join a payment's own transaction; more are recorded first, on their own (the
payment's order, activity, decision and figures need the rest of the transaction's 100 items)."""

if TYPE_CHECKING:
    from incentives.webhook.models import CustomerUpdated, MemberRegistered, OrderPaid, RechargePaid


def activity(
    affiliates: AffiliateRepository, corp_id: str, customer_id: str, product_ids: list[str]
) -> CustomerActivity:
    item = affiliates.activity(corp_id, customer_id)
    return CustomerActivity(
        followed_official_account=bool(item.get("followed_official_account", False)),
        identities=frozenset(item.get("identities", [])),
        tags=frozenset(item.get("tags", [])),
        products_bought=affiliates.bought(corp_id, customer_id, product_ids),
        consumption_fen=int(item.get("consumption_fen", 0)),
        consumption_count=int(item.get("consumption_count", 0)),
        recharge_fen=int(item.get("recharge_fen", 0)),
        recharge_count=int(item.get("recharge_count", 0)),
    )


def condition_products(settings: ProgramSettings) -> list[str]:
    """The products the application conditions ask about."""
    return [
        product
        for condition in settings.application.conditions
        for product in getattr(condition, "product_ids", [])
    ]


def eligibility(
    affiliates: AffiliateRepository, corp_id: str, customer_id: str, settings: ProgramSettings
) -> dict[str, Any]:
    """Which application conditions the customer meets now (the apply page shows what is left)."""
    found = evaluate(
        settings.application, activity(affiliates, corp_id, customer_id, condition_products(settings))
    )
    return {"eligible": found.eligible, "met": found.met, "unmet": found.unmet}


def commit_once(affiliates: AffiliateRepository, corp_id: str, changes: list[Change]) -> bool:
    """Commit changes led by an :class:`ActivityCounted`; False when it was counted before."""
    try:
        affiliates.commit(corp_id, changes)
    except Stale as stale:
        if any(isinstance(change, ActivityCounted) for change in stale.changes):
            return False
        raise
    return True


def order_counted(order: OrderPaid, now: datetime) -> ActivityCounted:
    """Count a paid order in the customer's consumption (paid + points + balance, seed 001 ④⑤), once."""
    consumption = sum(line.paid_fen + line.points_fen + line.balance_fen for line in order.lines)
    return ActivityCounted(
        order.customer_id,
        f"order:{order.order_id}",
        now,
        {"consumption_fen": consumption, "consumption_count": 1},
    )


def products_bought(order: OrderPaid) -> list[ProductsBought]:
    """The products the customer bought, in chunks that each fit a transaction."""
    products = sorted({line.product_id for line in order.lines})
    return [
        ProductsBought(order.customer_id, order.order_id, tuple(products[start : start + BOUGHT_CHUNK]))
        for start in range(0, len(products), BOUGHT_CHUNK)
    ]


def record_bought(affiliates: AffiliateRepository, corp_id: str, chunks: list[ProductsBought]) -> None:
    """Record the products bought (:func:`products_bought`), chunk by chunk (writing them again
    changes nothing)."""
    for chunk in chunks:
        affiliates.commit(corp_id, [chunk])


def record_order(affiliates: AffiliateRepository, corp_id: str, order: OrderPaid, now: datetime) -> bool:
    """Count the order in the customer's activity, once; False when counted before."""
    if affiliates.counted(corp_id, order.customer_id, f"order:{order.order_id}"):
        return False  # every later event of the order comes by here: write nothing again
    record_bought(affiliates, corp_id, products_bought(order))
    return commit_once(affiliates, corp_id, [order_counted(order, now)])


def affiliate_since(affiliates: AffiliateRepository, corp_id: str, customer_id: str, at: datetime) -> bool:
    """True when ``customer_id`` was an active affiliate at ``at`` (own purchases and recharges
    count in their level figures only from then on)."""
    item = profile(affiliates, corp_id, customer_id)
    return item is not None and parse_instant(item["joined_at"]) <= at


def record_recharge(
    affiliates: AffiliateRepository,
    corp_id: str,
    recharge: RechargePaid,
    now: datetime,
    *,
    time_zone: str = DEFAULT_TIME_ZONE,
    event_id: str | None = None,
) -> str:
    """Count a recharge in the customer's activity and, for an affiliate, their recharge amount."""
    customer = recharge.customer_id
    counted = ActivityCounted(
        customer,
        f"recharge:{recharge.recharge_id}",
        now,
        {"recharge_fen": recharge.amount_fen, "recharge_count": 1},
    )
    figures = (
        one(customer, Metric.RECHARGE_FEN, recharge.paid_at, time_zone, recharge.amount_fen)
        if affiliate_since(affiliates, corp_id, customer, recharge.paid_at)
        else {}
    )
    trigger = Trigger(source=f"recharge:{recharge.recharge_id}", event_id=event_id, at=now)
    if commit_once(affiliates, corp_id, [counted, LevelFigures(figures, trigger)]):
        assess_owed(affiliates.levels, corp_id, [customer] if figures else [], now, time_zone)
        return f"recharge of {recharge.amount_fen} fen counted for {customer}"
    return "recharge counted before"


def record_profile(affiliates: AffiliateRepository, corp_id: str, change: CustomerUpdated) -> str:
    values: dict[str, Any] = {}
    if change.followed_official_account is not None:
        values["followed_official_account"] = change.followed_official_account
    if change.identities is not None:
        values["identities"] = sorted(set(change.identities))
    if change.tags is not None:
        values["tags"] = sorted(set(change.tags))
    affiliates.commit(corp_id, [ActivitySet(change.customer_id, values)])
    return f"profile of {change.customer_id} updated ({', '.join(sorted(values) or ['nothing'])})"


def record_member(
    affiliates: AffiliateRepository,
    corp_id: str,
    member: MemberRegistered,
    now: datetime,
    *,
    time_zone: str = DEFAULT_TIME_ZONE,
    event_id: str | None = None,
) -> str:
    """A member who registered through an affiliate's invitation counts as an invited member."""
    inviter = member.invited_by_affiliate_id
    if not inviter:
        return "registered without an inviter"
    if profile(affiliates, corp_id, inviter) is None:
        return f"inviter {inviter} is not an affiliate"
    figures = one(inviter, Metric.INVITED_MEMBERS, member.registered_at, time_zone)
    trigger = Trigger(source=f"member:{member.customer_id}", event_id=event_id, at=now)
    try:
        affiliates.commit(
            corp_id,
            [
                InvitedMember(inviter, member.customer_id, member.registered_at),
                FiguresAdded(inviter, now, {"invited_members": 1}),
                LevelFigures(figures, trigger),
            ],
        )
    except Stale:
        return "invited member counted before"
    assess_owed(affiliates.levels, corp_id, [inviter], now, time_zone)
    return f"{member.customer_id} counted as a member invited by {inviter}"
