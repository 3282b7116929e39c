"""How each business event becomes ledger entries (pure; ids deterministic from their cause)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from incentives.ledger.model import Account, Entry, EntryKind


@dataclass(frozen=True)
class Hold:
    """What is left of a credit before it settles, and when it may settle."""

    account: Account
    credit_id: str
    remaining_fen: int
    hold_until: datetime | None
    """None until something schedules it (an affiliate commission waits for the order's completion)."""
    record_key: tuple[str, str] | None = None
    """An item (pk, sk) to mark ``settled`` in the same transaction as the settlement."""


def credit(account: Account, credit_id: str, amount_fen: int, at: datetime, note: str = "") -> Entry:
    return Entry(credit_id, account, EntryKind.CREDIT, amount_fen, at, ref=credit_id, note=note)


def reversal(hold: Hold, reversal_id: str, amount_fen: int, at: datetime, note: str = "") -> Entry:
    """Take back part of a pending credit; never more than what remains of it."""
    if amount_fen > hold.remaining_fen:
        raise ValueError(f"reversal of {amount_fen} exceeds the {hold.remaining_fen} still pending")
    return Entry(reversal_id, hold.account, EntryKind.REVERSAL, amount_fen, at, ref=hold.credit_id, note=note)


def settlement_id(credit_id: str) -> str:
    return f"settle:{credit_id}"


def settlement(hold: Hold, at: datetime) -> Entry | None:
    """Settle what remains of a credit whose hold has passed (nothing if all was reversed)."""
    if hold.remaining_fen <= 0:
        return None
    return Entry(
        settlement_id(hold.credit_id),
        hold.account,
        EntryKind.SETTLEMENT,
        hold.remaining_fen,
        at,
        ref=hold.credit_id,
    )


def clawback(
    account: Account, credit_id: str, clawback_id: str, amount_fen: int, at: datetime, note: str = ""
) -> Entry:
    return Entry(clawback_id, account, EntryKind.CLAWBACK, amount_fen, at, ref=credit_id, note=note)


def reserve(account: Account, payout_id: str, amount_fen: int, at: datetime) -> Entry:
    return Entry(f"reserve:{payout_id}", account, EntryKind.RESERVE, amount_fen, at, ref=payout_id)


def payout(account: Account, payout_id: str, amount_fen: int, at: datetime, note: str = "") -> Entry:
    return Entry(f"payout:{payout_id}", account, EntryKind.PAYOUT, amount_fen, at, ref=payout_id, note=note)


def release(account: Account, payout_id: str, amount_fen: int, at: datetime) -> Entry:
    return Entry(f"release:{payout_id}", account, EntryKind.RELEASE, amount_fen, at, ref=payout_id)
