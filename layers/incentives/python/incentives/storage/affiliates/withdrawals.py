"""Withdrawals' entry points on the table (SPEC §4.4 "Withdrawals", seed 003 结算中心).

The rules are in ``affiliates.withdrawing`` over ``AffiliateRepository``,
the request and review models and the view in ``affiliates.withdrawal_models``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from incentives.affiliates import withdrawing as _withdrawing
from incentives.affiliates.withdrawal_models import (
    REQUEST_ID,
    Approval,
    ManualSettlement,
    PayeeAccount,
    PayeeChannel,
    Rejection,
    Settlement,
    WithdrawalInput,
    view,
    views,
)
from incentives.affiliates.withdrawing import withdrawal_id_for
from incentives.storage.affiliates import TableAffiliates, on_table
from incentives.storage.payouts import payout_item as _payout_item
from incentives.storage.table import Table

if TYPE_CHECKING:
    from incentives.storage.ledger import LedgerRepository


def request(
    table: Table,
    ledger: LedgerRepository,
    corp_id: str,
    affiliate_id: str,
    body: WithdrawalInput,
    now: datetime,
) -> dict[str, Any]:
    """Ask to withdraw: ≥ the threshold, ≤ the withdrawable balance, reserved atomically."""
    return _withdrawing.request(TableAffiliates(table), ledger, corp_id, affiliate_id, body, now)


get = on_table(_withdrawing.get)
reject = on_table(_withdrawing.reject)
approve = on_table(_withdrawing.approve)
settle_manually = on_table(_withdrawing.settle_manually)
cancel = on_table(_withdrawing.cancel)
listing = on_table(_withdrawing.listing)
listing_page = on_table(_withdrawing.listing_page)
_payout = on_table(_withdrawing.new_payout)

__all__ = [
    "REQUEST_ID",
    "Approval",
    "ManualSettlement",
    "PayeeAccount",
    "PayeeChannel",
    "Rejection",
    "Settlement",
    "WithdrawalInput",
    "_payout",
    "_payout_item",
    "approve",
    "cancel",
    "get",
    "listing",
    "listing_page",
    "reject",
    "request",
    "settle_manually",
    "view",
    "views",
    "withdrawal_id_for",
]
