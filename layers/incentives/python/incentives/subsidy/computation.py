"""The subsidy of a settled order, on the amount actually settled (paid − refunds), seed 004:

- share / official account / mini program: the fee at the reduced rate (1 %) instead of the
  standard rate, the saving being standard − reduced, plus a growth card of up to 0.4 % of the
  amount;
- live reservation: a growth card equal to that saving, and no fee reduction.

Each fee is rounded half up to the fen per line (each line has its category's rate); the saving
is the difference of rounded fees, so the figures add up exactly. The growth card is the cap
applied to the eligible settled amount, once. Lines in an excluded category pay the standard rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from incentives.core.money import apply_ppm
from incentives.ledger.model import Account, Book, Entry, OwnerKind, SubsidyEntryKind
from incentives.subsidy.attribution import Attribution
from incentives.subsidy.campaign import Campaign
from incentives.webhook.models import OrderPaid


@dataclass(frozen=True)
class LineFigures:
    line_id: str
    category: str
    settled_fen: int
    standard_rate_ppm: int
    eligible: bool
    standard_fee_fen: int
    expected_fee_fen: int


@dataclass(frozen=True)
class Figures:
    settled_fen: int
    eligible_settled_fen: int
    standard_rate_ppm: int
    expected_rate_ppm: int
    standard_fee_fen: int
    expected_fee_fen: int
    fee_saving_fen: int
    growth_card_fen: int
    lines: tuple[LineFigures, ...]


def settled_by_line(order: OrderPaid, refunded_by_line: Mapping[str, int]) -> dict[str, int]:
    return {
        line.line_id: line.paid_fen - min(refunded_by_line.get(line.line_id, 0), line.paid_fen)
        for line in order.lines
    }


def compute(
    order: OrderPaid, refunded_by_line: Mapping[str, int], attribution: Attribution, campaign: Campaign | None
) -> Figures:
    """The expected fee, saving and growth card of ``order`` after its refunds."""
    settled = settled_by_line(order, refunded_by_line)
    scene = attribution.scene
    reduces_fee = scene in ("wecom_share", "official_account", "mini_program")
    lines: list[LineFigures] = []
    card_base = 0
    live_saving = 0
    for line in order.lines:
        amount = settled[line.line_id]
        standard = campaign.standard_rate_ppm(list(line.category_path)) if campaign else 0
        eligible = scene is not None and line.line_id in attribution.eligible_line_ids
        standard_fee = apply_ppm(amount, standard)
        expected_fee = standard_fee
        if eligible and campaign is not None:
            reduced_fee = apply_ppm(amount, campaign.reduced_rate_ppm)
            card_base += amount
            if reduces_fee:
                expected_fee = reduced_fee
            else:
                live_saving += standard_fee - reduced_fee
        top = line.category_path[0] if line.category_path else ""
        lines.append(LineFigures(line.line_id, top, amount, standard, eligible, standard_fee, expected_fee))
    standard_fee_total = sum(line.standard_fee_fen for line in lines)
    expected_fee_total = sum(line.expected_fee_fen for line in lines)
    if scene is None or campaign is None:
        card = 0
    elif reduces_fee:
        card = apply_ppm(card_base, campaign.growth_card_cap_ppm)
    else:
        card = live_saving
    main = max(lines, key=lambda line: (line.settled_fen, line.line_id)) if lines else None
    standard_rate = main.standard_rate_ppm if main else 0
    return Figures(
        settled_fen=sum(settled.values()),
        eligible_settled_fen=card_base,
        standard_rate_ppm=standard_rate,
        expected_rate_ppm=campaign.reduced_rate_ppm if reduces_fee and campaign else standard_rate,
        standard_fee_fen=standard_fee_total,
        expected_fee_fen=expected_fee_total,
        fee_saving_fen=standard_fee_total - expected_fee_total,
        growth_card_fen=card,
        lines=tuple(lines),
    )


def campaign_account(corp_id: str, campaign_id: str) -> Account:
    """The subsidy book's account of one campaign: every order's saving and card, and clawbacks."""
    return Account(corp_id, OwnerKind.CAMPAIGN, campaign_id, Book.SUBSIDY)


def fee_saving_id(order_id: str) -> str:
    return f"subsidy-fee:{order_id}"


def growth_card_id(order_id: str) -> str:
    return f"subsidy-card:{order_id}"


def clawback_id(entry_id: str) -> str:
    return f"clawback:{entry_id}"


def subsidy_entries(
    corp_id: str, order_id: str, campaign_id: str, figures: Figures, recipient: str | None, at: datetime
) -> list[Entry]:
    """The entries of a settled order in the subsidy book (none for a zero amount)."""
    account = campaign_account(corp_id, campaign_id)
    entries = []
    if figures.fee_saving_fen > 0:
        entries.append(
            Entry(
                fee_saving_id(order_id),
                account,
                SubsidyEntryKind.FEE_SAVING,
                figures.fee_saving_fen,
                at,
                ref=order_id,
                note=f"order {order_id}: fee {figures.standard_fee_fen} → {figures.expected_fee_fen}",
            )
        )
    if figures.growth_card_fen > 0:
        entries.append(
            Entry(
                growth_card_id(order_id),
                account,
                SubsidyEntryKind.GROWTH_CARD,
                figures.growth_card_fen,
                at,
                ref=order_id,
                note=f"order {order_id}: growth card to {recipient or 'unknown'}",
            )
        )
    return entries


CLAWBACK_KIND = {
    SubsidyEntryKind.FEE_SAVING: SubsidyEntryKind.FEE_SAVING_CLAWBACK,
    SubsidyEntryKind.GROWTH_CARD: SubsidyEntryKind.GROWTH_CARD_CLAWBACK,
}


def clawback_entries(originals: list[Entry], reason: str, at: datetime) -> list[Entry]:
    """One reversal per original entry, of the same amount, referencing it."""
    return [
        Entry(
            clawback_id(original.entry_id),
            original.account,
            CLAWBACK_KIND[SubsidyEntryKind(original.kind)],
            original.amount_fen,
            at,
            ref=original.entry_id,
            note=reason,
        )
        for original in originals
        if original.kind in CLAWBACK_KIND
    ]
