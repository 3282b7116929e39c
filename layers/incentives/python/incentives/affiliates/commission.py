"""Commissions of one paid order (SPEC §4.4 "Commission"), pure.

Decided once, at payment, from the binding at payment time: the bound affiliate earns
``paid_fen × rate`` per line (rate: the product's override, else their level rate, else the
global rate) and their upline earns the invite reward ``paid_fen × invite rate``. Refunds
take back each line's share pro rata to what the line refunded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from incentives.affiliates.program import (
    ProgramSettings,
    PromotionType,
    commission_rate,
    invite_rate,
)
from incentives.core.money import apply_rate, pro_rata
from incentives.ledger.model import Account, OwnerKind

if TYPE_CHECKING:
    from incentives.webhook.models import OrderPaid


class Role(StrEnum):
    COMMISSION = "commission"
    """The affiliate the customer was bound to (or the buyer, on a self-purchase)."""
    INVITE = "invite"
    """That affiliate's upline: the invite reward (邀请奖励)."""


@dataclass(frozen=True)
class Promoter:
    """What the commission rules need to know of an affiliate."""

    affiliate_id: str
    upline_id: str | None = None
    level_rate_bp: int | None = None
    """The rate of their level in force at payment (None: no level rate, the program's applies)."""
    level_rank: int | None = None
    stores: frozenset[str] | None = None
    """The stores they may promote; None means every store."""
    types: frozenset[PromotionType] = frozenset(PromotionType)


@dataclass(frozen=True)
class LineShare:
    line_id: str
    product_id: str
    base_fen: int
    rate_bp: int
    amount_fen: int


@dataclass(frozen=True)
class Share:
    role: Role
    beneficiary_id: str
    lines: tuple[LineShare, ...]

    @property
    def amount_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines)


@dataclass(frozen=True)
class Decision:
    shares: tuple[Share, ...]
    reason: str
    affiliate_id: str | None = None
    """Who the order is attributed to (even when it earns nothing, e.g. a zero rate)."""
    awaits_binding: bool = False
    """Nobody was bound at payment: a click from before the payment that arrives late attributes it."""


def promotion_type(order: OrderPaid) -> PromotionType:
    return PromotionType.GROUP_BUY if order.is_group_buy else PromotionType.GOODS


def decide(
    settings: ProgramSettings,
    order: OrderPaid,
    *,
    buyer: Promoter | None,
    bound: Promoter | None,
    upline: Promoter | None,
) -> Decision:
    """Who earns what on ``order``. ``buyer`` is set when the buyer is an active affiliate,
    ``bound`` is the affiliate the buyer was bound to at payment, ``upline`` the upline of
    whoever earns the commission."""
    if not settings.promotion_enabled:
        return Decision((), "promotion is switched off")
    if buyer is not None:
        if not settings.self_purchase_commission:
            return Decision((), "self-purchase by an affiliate earns no commission", buyer.affiliate_id)
        earner = buyer
    elif bound is not None:
        earner = bound
    else:
        return Decision((), "the customer was bound to no affiliate at payment", awaits_binding=True)
    kind = promotion_type(order)
    if kind not in settings.promotion_types:
        return Decision((), f"the program does not promote {kind.value}", earner.affiliate_id)
    if kind not in earner.types:
        return Decision((), f"{earner.affiliate_id} may not promote {kind.value}", earner.affiliate_id)
    if earner.stores is not None and order.store_id not in earner.stores:
        return Decision(
            (), f"{earner.affiliate_id} may not promote store {order.store_id}", earner.affiliate_id
        )
    shares = []
    commission_lines = tuple(
        LineShare(line.line_id, line.product_id, line.paid_fen, rate, apply_rate(line.paid_fen, rate))
        for line in order.lines
        for rate in [commission_rate(settings, line.product_id, earner.level_rate_bp)]
    )
    shares.append(Share(Role.COMMISSION, earner.affiliate_id, commission_lines))
    if upline is not None and upline.affiliate_id != earner.affiliate_id:
        invite_lines = tuple(
            LineShare(line.line_id, line.product_id, line.paid_fen, rate, apply_rate(line.paid_fen, rate))
            for line in order.lines
            for rate in [invite_rate(settings, line.product_id)]
        )
        shares.append(Share(Role.INVITE, upline.affiliate_id, invite_lines))
    earning = tuple(share for share in shares if share.amount_fen > 0)
    reason = "self-purchase" if buyer is not None else f"bound to {earner.affiliate_id} at payment"
    return Decision(earning, reason, earner.affiliate_id)


def taken_back(
    share_lines: tuple[LineShare, ...] | list[LineShare], refunded_by_line: Mapping[str, int]
) -> int:
    """How much of a share refunds take back in total: per line, its amount × refunded / paid.

    Computed on the cumulative refund of each line, so several partial refunds add up to
    exactly the share on a full refund, whatever the rounding of each.
    """
    return sum(
        pro_rata(line.amount_fen, min(refunded_by_line.get(line.line_id, 0), line.base_fen), line.base_fen)
        for line in share_lines
    )


def account(corp_id: str, affiliate_id: str) -> Account:
    """The ledger account of an affiliate's commissions."""
    return Account(corp_id, OwnerKind.AFFILIATE, affiliate_id)


def credit_id(order_id: str, role: str) -> str:
    """The id of a share's credit (one per order and role: never credited twice)."""
    return f"aff:{order_id}:{role}"
