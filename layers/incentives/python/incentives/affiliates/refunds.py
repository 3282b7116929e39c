"""A refund takes back each share's pro-rata part (SPEC §4.4 "Lifecycle", seed 003 维权): a
reversal of the pending credit while its hold lasts, a clawback once it settled. Ids are
``rev:`` / ``claw:`` + order, role and refund, so a refund never takes back twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from incentives.affiliates.commission import LineShare, account, credit_id, taken_back
from incentives.affiliates.ports import (
    Change,
    Earnings,
    FiguresAdded,
    HoldReduced,
    Posted,
    Record,
    ShareChanged,
    Stale,
)
from incentives.core.clock import iso_utc, local_date
from incentives.ledger import postings
from incentives.ledger.model import Entry
from incentives.ledger.postings import Hold


def share_lines(item: Record) -> tuple[LineShare, ...]:
    return tuple(LineShare(**line) for line in item["lines"])


def take_back(ports: Earnings, corp_id: str, share: Record, refund: Any, now: datetime) -> bool:
    """Apply one refund to one share; False when a concurrent change made the caller re-read."""
    hold = ports.ledger.hold(
        account(corp_id, share["beneficiary_id"]), credit_id(share["order_id"], share["role"])
    )
    changes = take_back_changes(corp_id, share, refund, hold, now, ports.time_zone)
    if changes is None:
        return False  # another worker took back part of it meanwhile: read the share again
    try:
        ports.affiliates.commit(corp_id, changes)
    except Stale:
        return False  # posted before, or the share or the hold changed meanwhile
    return True


def take_back_changes(
    corp_id: str, share: Record, refund: Any, hold: Hold | None, now: datetime, time_zone: str
) -> list[Change] | None:
    """The changes that apply one refund to one share, given the credit's hold (None once it
    settled); None when the hold no longer covers the amount (a concurrent change)."""
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
    day = local_date(refund.refunded_at, time_zone).isoformat()
    record = {
        "lines": {line.line_id: line.refund_fen for line in refund.lines},
        "amount_fen": amount,
        "at": iso_utc(refund.refunded_at),
    }
    share_update: dict[str, Any] = {
        "refunds": {**share["refunds"], refund.refund_id: {**record, "kind": "none"}}
    }
    changes: list[Change] = []
    entries: list[Entry] = []
    if hold is not None and amount > hold.remaining_fen:
        return None
    if amount > 0 and hold is not None:
        entry = postings.reversal(
            hold,
            f"rev:{share['order_id']}:{share['role']}:{refund.refund_id}",
            amount,
            refund.refunded_at,
            note="refund",
        )
        entries.append(entry)
        changes.append(HoldReduced(entry))
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
    changes.append(
        ShareChanged(
            share["order_id"], share["role"], int(share["version"]), share_update, share["paid_at"], -amount
        )
    )
    if amount > 0:
        changes.append(
            FiguresAdded(
                share["beneficiary_id"],
                now,
                {"returned_fen": amount},
                day,
                {"returned_fen": amount},
                spread_by=f"{share['order_id']}#{refund.refund_id}",
            )
        )
    return [Posted(tuple(entries), refund.refunded_at), *changes]
