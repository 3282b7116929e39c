"""The distribution center (分销中心) of one affiliate: seed 001 §四.2's six figures and the
promotion figures, plus the listings behind them.

Definitions, word for word from the seed (未入账 / 已入账 = before / after the after-sales window):
- today returned (今日返还): commission that orders with after-sales today give back;
- today issued (今日发放): commission of today's orders, including what was returned today;
- pending settlement (待结算金额): commission past the window and not paid out = withdrawable;
- cumulative rewards (累计奖励): all commission past the window, paid out or not;
- receivable amount (应收金额): payable total (coupons, points, balance included) of every
  order that earned a commission, refunded ones included — not the amount received;
- paid orders (支付单量): how many orders earned a commission.
An upline's invite rewards count as commission in these figures.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from incentives.affiliates.bound_customers import customers_of
from incentives.affiliates.commission import Role, account
from incentives.affiliates.ports import AffiliateRepository, Ledger, Record, ShareQuery, ShareTotals
from incentives.affiliates.program import Figure
from incentives.core.clock import iso_utc, local_date, parse_instant
from incentives.ledger.model import Balance, Bucket


class Figures(BaseModel):
    today_returned_fen: int
    today_issued_fen: int
    pending_settlement_fen: int
    cumulative_rewards_fen: int
    receivable_fen: int
    paid_orders: int


class Promotion(BaseModel):
    customers: int
    invited_affiliates: int
    invited_members: int
    orders: int


class Shown(BaseModel):
    figure: str
    value: int


class Center(BaseModel):
    affiliate_id: str
    display_name: str
    figures: Figures
    shown: list[Shown]
    """The figures the merchant chose to show, in their order (seed 001 §四.2: at most 4)."""
    page: dict[str, Any]
    promotion: Promotion
    balance: dict[str, int]


_FIELD = {
    Figure.TODAY_RETURNED: "today_returned_fen",
    Figure.TODAY_ISSUED: "today_issued_fen",
    Figure.PENDING_SETTLEMENT: "pending_settlement_fen",
    Figure.CUMULATIVE_REWARDS: "cumulative_rewards_fen",
    Figure.RECEIVABLE: "receivable_fen",
    Figure.PAID_ORDERS: "paid_orders",
}


def figures(balance: Balance, stats: dict[str, Any], today: dict[str, Any]) -> Figures:
    """The six figures from the ledger balance and the running counters (pure)."""
    return Figures(
        today_returned_fen=int(today.get("returned_fen", 0)),
        today_issued_fen=int(today.get("issued_fen", 0)),
        pending_settlement_fen=balance[Bucket.SETTLED],
        cumulative_rewards_fen=balance[Bucket.SETTLED] + balance[Bucket.RESERVED] + balance[Bucket.PAID],
        receivable_fen=int(stats.get("receivable_fen", 0)),
        paid_orders=int(stats.get("paid_orders", 0)),
    )


def center(
    affiliates: AffiliateRepository,
    ledger: Ledger,
    corp_id: str,
    affiliate_id: str,
    now: datetime,
    time_zone: str,
) -> Center:
    settings = affiliates.settings(corp_id)
    balance = ledger.balance(account(corp_id, affiliate_id))
    stats = affiliates.stats(corp_id, affiliate_id)
    today = affiliates.day(corp_id, affiliate_id, local_date(now, time_zone).isoformat())
    six = figures(balance, stats, today)
    values = six.model_dump()
    return Center(
        affiliate_id=affiliate_id,
        display_name=settings.display_name,
        figures=six,
        shown=[Shown(figure=f.value, value=values[_FIELD[f]]) for f in settings.center.figures],
        page=settings.center.model_dump(mode="json", exclude={"figures"}),
        promotion=Promotion(
            customers=len(customers_of(affiliates, corp_id, affiliate_id, now, settings)),
            invited_affiliates=int(stats.get("invited_affiliates", 0)),
            invited_members=int(stats.get("invited_members", 0)),
            orders=int(stats.get("promoted_orders", 0)),
        ),
        balance={bucket.value: balance[bucket] for bucket in Bucket},
    )


class ShareState(StrEnum):
    PENDING = "pending"
    """Not completed, or in its after-sales window."""
    SETTLED = "settled"
    SETTLED_THEN_CLAWED_BACK = "settled_then_clawed_back"
    REFUNDED = "refunded"
    """Nothing left: refunds took it all back before it settled."""


def share_state(item: Record) -> ShareState:
    left = int(item["amount_fen"]) - int(item["reversed_fen"]) - int(item["clawed_back_fen"])
    if item.get("settled_at") and int(item["clawed_back_fen"]) > 0:
        return ShareState.SETTLED_THEN_CLAWED_BACK
    if left == 0:
        return ShareState.REFUNDED
    return ShareState.SETTLED if item.get("settled_at") else ShareState.PENDING


class CommissionRecord(BaseModel):
    order_id: str
    role: str
    beneficiary_id: str
    affiliate_id: str | None
    customer_id: str
    store_id: str
    paid_at: str
    payable_fen: int
    paid_fen: int
    commission_fen: int
    reversed_fen: int
    clawed_back_fen: int
    net_fen: int
    state: str
    hold_until: str | None
    settled_at: str | None
    lines: list[dict[str, Any]]


def record(item: Record) -> CommissionRecord:
    return CommissionRecord(
        order_id=item["order_id"],
        role=item["role"],
        beneficiary_id=item["beneficiary_id"],
        affiliate_id=item.get("affiliate_id"),
        customer_id=item["customer_id"],
        store_id=item["store_id"],
        paid_at=item["paid_at"],
        payable_fen=int(item["payable_fen"]),
        paid_fen=int(item["paid_fen"]),
        commission_fen=int(item["amount_fen"]),
        reversed_fen=int(item["reversed_fen"]),
        clawed_back_fen=int(item["clawed_back_fen"]),
        net_fen=int(item["amount_fen"]) - int(item["reversed_fen"]) - int(item["clawed_back_fen"]),
        state=share_state(item).value,
        hold_until=item.get("hold_until"),
        settled_at=item.get("settled_at"),
        lines=item["lines"],
    )


def commission_records(
    affiliates: AffiliateRepository,
    corp_id: str,
    *,
    beneficiary_id: str | None = None,
    role: str | None = None,
    state: str | None = None,
    store_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[CommissionRecord]:
    """Commission records newest first: one affiliate's (their index) or the tenant's, filtered."""
    found = []
    for item in affiliates.shares(corp_id, beneficiary_id):
        paid_at = parse_instant(item["paid_at"])
        if (
            (role and item["role"] != role)
            or (store_id and item["store_id"] != store_id)
            or (since and paid_at < since)
            or (until and paid_at > until)
        ):
            continue
        row = record(item)
        if state and row.state != state:
            continue
        found.append(row)
    return found


@dataclass(frozen=True)
class RecordFilter:
    """What a commission listing shows: one beneficiary's or the tenant's, of a role, in a state,
    of a store, paid between two instants (those bounds are the index's key condition)."""

    beneficiary_id: str | None = None
    role: str | None = None
    state: str | None = None
    store_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def keeps(self, item: Record) -> bool:
        return not (
            (self.role and item["role"] != self.role)
            or (self.store_id and item["store_id"] != self.store_id)
            or (self.state and share_state(item).value != self.state)
        )


def commission_page(
    affiliates: AffiliateRepository, corp_id: str, matching: RecordFilter, limit: int, cursor: str | None
) -> tuple[list[CommissionRecord], str | None]:
    """One page of commission records newest first, read through the index (the time bounds in
    its key condition); ``cursor`` continues the previous page."""
    query = ShareQuery(
        limit,
        cursor,
        since=iso_utc(matching.since) if matching.since else None,
        until=iso_utc(matching.until) if matching.until else None,
        keep=matching.keeps,
    )
    page = affiliates.shares_page(corp_id, matching.beneficiary_id, query)
    return [record(item) for item in page.records], page.cursor


def commission_totals(
    affiliates: AffiliateRepository, corp_id: str, matching: RecordFilter
) -> ShareTotals | None:
    """The tenant's maintained totals for ``matching`` without reading its records: only for the
    whole tenant over whole UTC days (``None`` for any other filter)."""
    if matching.beneficiary_id or matching.role or matching.state or matching.store_id:
        return None
    first = last = None
    if matching.since is not None:
        if iso_utc(matching.since)[10:] != "T00:00:00.000Z":
            return None
        first = iso_utc(matching.since)[:10]
    if matching.until is not None:
        if iso_utc(matching.until)[10:] != "T23:59:59.999Z":
            return None
        last = iso_utc(matching.until)[:10]
    return affiliates.share_totals(corp_id, first, last)


def my_commission_page(
    affiliates: AffiliateRepository,
    corp_id: str,
    affiliate_id: str,
    matching: RecordFilter,
    limit: int,
    cursor: str | None,
) -> tuple[list[CommissionRecord], str | None]:
    """A page of an affiliate's own commission records newest first, read through their own index
    partition (whatever ``matching`` names as the beneficiary, it is ``affiliate_id``)."""
    own = replace(matching, beneficiary_id=affiliate_id)
    found, following = commission_page(affiliates, corp_id, own, limit, cursor)
    return [_as_beneficiary_sees(r) for r in found], following


def _as_beneficiary_sees(found: CommissionRecord) -> CommissionRecord:
    """An upline sees which downline affiliate earned an invite reward, not who their customers are."""
    return found.model_copy(update={"customer_id": ""}) if found.role == Role.INVITE else found


def downline(affiliates: AffiliateRepository, corp_id: str, affiliate_id: str) -> list[dict[str, Any]]:
    """The affiliates this one invited (seed 003 我的下级)."""
    return [
        {"affiliate_id": i["affiliate_id"], "name": i.get("name", ""), "joined_at": i["joined_at"]}
        for i in affiliates.downline(corp_id, affiliate_id)
    ]


CSV_COLUMNS = (
    "order_id",
    "role",
    "beneficiary_id",
    "affiliate_id",
    "customer_id",
    "store_id",
    "paid_at",
    "payable_fen",
    "paid_fen",
    "commission_fen",
    "reversed_fen",
    "clawed_back_fen",
    "net_fen",
    "state",
    "settled_at",
)
