"""The payout state machine (SPEC §4.7), pure.

    queued → sending → paid | failed(reason)        failed → queued (operator re-queue)
    sending → awaiting_confirmation → paid | cancelled (released) | failed(reason)
    recorded                                        (offline: no money moves)
    failed → cancelled                              (operator; only when no money can have moved)

``awaiting_confirmation``: a WeChat Pay transfer bill waits for the payee to confirm it in
WeChat (``confirmation`` is what the mini program needs); nothing has moved yet. The payee's
confirmation pays it; a bill closed unpaid (declined, or not confirmed by ``confirm_by``, when
the reconciler cancels it) makes the payout ``cancelled`` with its reserve released.

The payout id is deterministic from its cause and is the provider's idempotency number
(``partner_trade_no`` / ``out_bill_no``): every attempt, retry and query reuses it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from incentives.ledger.model import Account


class PayoutStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    PAID = "paid"
    FAILED = "failed"
    RECORDED = "recorded"
    CANCELLED = "cancelled"
    AWAITING_CONFIRMATION = "awaiting_confirmation"


OPEN_STATUSES = frozenset({PayoutStatus.QUEUED, PayoutStatus.SENDING})
TERMINAL_STATUSES = frozenset({PayoutStatus.PAID, PayoutStatus.RECORDED, PayoutStatus.CANCELLED})

CONFIRM_WITHIN = timedelta(hours=24)
"""Default time a payee has to confirm a transfer before the reconciler cancels it (WeChat Pay
closes an unconfirmed bill itself after about 24 hours)."""


RETRIES_EXHAUSTED = "RETRIES_EXHAUSTED"
"""Failure code of a payout given up on while its fate at the provider was unknown."""
NOT_SENT = "NOT_SENT"
"""Failure code once the provider confirmed that an unresolved payout moved no money."""


class ProviderName(StrEnum):
    WECOM_PAY = "wecom_pay"
    """WeCom pay-to-employee (guides)."""
    WECHAT_TRANSFER = "wechat_transfer"
    """WeChat Pay transfer to a user's wallet (affiliates)."""
    OFFLINE = "offline"
    """Recorded only; the merchant pays outside the system."""


def payout_id_for(corp_id: str, source: str) -> str:
    """32 letters and digits, deterministic from the tenant and the cause (reward or withdrawal).

    The providers accept only letters and digits, at most 32, for their idempotency number.
    """
    return "po" + hashlib.sha256(f"{corp_id}|{source}".encode()).hexdigest()[:30]


@dataclass(frozen=True)
class Payee:
    account: Account
    openid: str
    """The payee's openid under the paying app (WeCom: from ``user/convert_to_openid``)."""
    name: str = ""
    dept_path: tuple[str, ...] = ()
    """Department ids from the root to the payee's outlet, for operators' data scopes."""


@dataclass(frozen=True)
class Confirmation:
    """What the payee's mini program passes to ``wx.requestMerchantTransfer`` to confirm a bill."""

    mch_id: str
    app_id: str
    package_info: str


@dataclass(frozen=True)
class Payout:
    payout_id: str
    payee: Payee
    amount_fen: int
    provider: ProviderName
    source: str
    description: str
    status: PayoutStatus
    created_at: datetime
    updated_at: datetime
    version: int = 1
    generation: int = 1
    """Bumped by each re-queue, so an old queue message cannot act on the new attempt."""
    sends: int = 0
    """Provider calls made; from the first on, every attempt starts by querying."""
    transaction_id: str | None = None
    paid_at: datetime | None = None
    failure_code: str | None = None
    failure_reason: str | None = None
    history: tuple[str, ...] = field(default=())
    confirmation: Confirmation | None = None
    """While ``awaiting_confirmation``: what the payee needs to confirm the transfer."""
    confirm_by: datetime | None = None
    """While ``awaiting_confirmation``: the deadline after which the reconciler cancels the bill."""
    check_at: datetime | None = None
    """While ``awaiting_confirmation``: when the reconciler next asks the provider about it."""
    source_facts: Mapping[str, Any] | None = None
    """What its source's maintained totals need once it is paid (a guide reward's rule, day,
    outlet, month and amounts), kept with it so that the move to paid reads nothing more."""

    @property
    def unresolved(self) -> bool:
        """Given up on without knowing whether the money moved; the reconciler keeps asking."""
        return self.status is PayoutStatus.FAILED and self.failure_code == RETRIES_EXHAUSTED

    @property
    def corp_id(self) -> str:
        return self.payee.account.corp_id

    def reconcilable(self, before: datetime) -> bool:
        """Left open (or unresolved) and untouched since ``before``: the reconciler's to resolve."""
        return (self.status in OPEN_STATUSES or self.unresolved) and self.updated_at <= before

    def check_due(self, now: datetime) -> bool:
        """Waiting for its payee with its next check due by ``now``."""
        return (
            self.status is PayoutStatus.AWAITING_CONFIRMATION
            and self.check_at is not None
            and self.check_at <= now
        )

    def _moved(self, now: datetime, status: PayoutStatus, note: str, **changes: Any) -> Payout:
        line = f"{now.isoformat()} {self.status.value}→{status.value} {note}".strip()
        return replace(
            self,
            status=status,
            updated_at=now,
            version=self.version + 1,
            history=(*self.history, line),
            **changes,
        )

    def sending(self, now: datetime) -> Payout:
        if self.status not in OPEN_STATUSES:
            raise ValueError(f"payout {self.payout_id} is {self.status.value}; it cannot be sent")
        return self._moved(now, PayoutStatus.SENDING, f"attempt {self.sends + 1}", sends=self.sends + 1)

    def paid(self, now: datetime, transaction_id: str, paid_at: datetime | None) -> Payout:
        if self.status in TERMINAL_STATUSES:
            raise ValueError(f"payout {self.payout_id} is {self.status.value}; it cannot be paid")
        return self._moved(
            now,
            PayoutStatus.PAID,
            transaction_id,
            transaction_id=transaction_id,
            paid_at=paid_at or now,
            failure_code=None,
            failure_reason=None,
            confirmation=None,
            check_at=None,
        )

    def awaiting(
        self,
        now: datetime,
        bill_no: str,
        confirmation: Confirmation,
        confirm_by: datetime,
        check_at: datetime,
    ) -> Payout:
        """The provider made the bill; it waits for the payee until ``confirm_by``."""
        if self.status in TERMINAL_STATUSES or self.status is PayoutStatus.AWAITING_CONFIRMATION:
            raise ValueError(f"payout {self.payout_id} is {self.status.value}; it cannot wait for the payee")
        return self._moved(
            now,
            PayoutStatus.AWAITING_CONFIRMATION,
            f"bill {bill_no} waits for the payee until {confirm_by.isoformat()}",
            transaction_id=bill_no,
            confirmation=confirmation,
            confirm_by=confirm_by,
            check_at=check_at,
            failure_code=None,
            failure_reason=None,
        )

    def checked(self, now: datetime, check_at: datetime, note: str) -> Payout:
        """Still waiting for the payee: the reconciler looks again at ``check_at``."""
        if self.status is not PayoutStatus.AWAITING_CONFIRMATION:
            raise ValueError(f"payout {self.payout_id} is {self.status.value}, not awaiting confirmation")
        line = f"{now.isoformat()} {note}; next check {check_at.isoformat()}"
        return replace(
            self, updated_at=now, version=self.version + 1, check_at=check_at, history=(*self.history, line)
        )

    def closed_unpaid(self, now: datetime, code: str, reason: str) -> Payout:
        """The provider closed the bill without paying it (declined, expired, cancelled): final."""
        if self.status in TERMINAL_STATUSES:
            raise ValueError(f"payout {self.payout_id} is {self.status.value}; it cannot be closed")
        return self._moved(
            now,
            PayoutStatus.CANCELLED,
            f"{code}: {reason}; released",
            failure_code=code,
            failure_reason=reason,
            confirmation=None,
            check_at=None,
        )

    def failed(self, now: datetime, code: str, reason: str) -> Payout:
        return self._moved(
            now,
            PayoutStatus.FAILED,
            f"{code}: {reason}",
            failure_code=code,
            failure_reason=reason,
            confirmation=None,
            check_at=None,
        )

    def cancelled(self, now: datetime, actor: str) -> Payout:
        """Give up on a failed payout for good. Refused while the provider may still have paid it."""
        if self.status is not PayoutStatus.FAILED:
            raise ValueError(f"only a failed payout can be cancelled; this one is {self.status.value}")
        if self.unresolved:
            raise ValueError("the provider may have paid this payout; wait until the reconciler knows")
        return self._moved(now, PayoutStatus.CANCELLED, f"cancelled by {actor}")

    def requeued(self, now: datetime, actor: str) -> Payout:
        if self.status is not PayoutStatus.FAILED:
            raise ValueError(f"only a failed payout can be re-queued; this one is {self.status.value}")
        return self._moved(
            now,
            PayoutStatus.QUEUED,
            f"re-queued by {actor}",
            generation=self.generation + 1,
            failure_code=None,
            failure_reason=None,
        )
