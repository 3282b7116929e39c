"""Withdrawals of settled commission (SPEC §4.4 "Withdrawals", seed 003 结算中心).

request → ``pending_review`` (the amount is reserved at once, atomically with the request,
so two concurrent requests can never overdraw) → ``rejected`` (released) or approved, then
paid either manually (the operator transfers and confirms with a reference; recorded
offline) or automatically through the payout queue (WeChat Pay transfer, ``out_bill_no`` =
the payout id). The payout's state is the withdrawal's state from then on.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from incentives.affiliates.commission import account
from incentives.affiliates.ports import (
    AffiliateRepository,
    Change,
    Ledger,
    PayoutCreated,
    Posted,
    Record,
    RecordPage,
    Stale,
    WithdrawalMoved,
    WithdrawalRequested,
)
from incentives.affiliates.profiles import require_profile
from incentives.affiliates.withdrawal_models import (
    Approval,
    ManualSettlement,
    Rejection,
    Settlement,
    WithdrawalInput,
)
from incentives.core.clock import iso_utc
from incentives.core.errors import ConcurrentModification, Conflict, InvalidInput, NotFound
from incentives.ledger import postings
from incentives.ledger.errors import InsufficientBalance
from incentives.payouts.model import Payee, PayoutStatus, ProviderName, payout_id_for

if TYPE_CHECKING:
    from incentives.ledger.model import Entry
    from incentives.payouts.model import Payout
    from incentives.payouts.ports import PayoutQueue, Payouts


def withdrawal_id_for(corp_id: str, affiliate_id: str, request_id: str) -> str:
    return "wd" + hashlib.sha256(f"{corp_id}|{affiliate_id}|{request_id}".encode()).hexdigest()[:30]


def _payout_id(corp_id: str, withdrawal_id: str) -> str:
    return payout_id_for(corp_id, f"withdrawal:{withdrawal_id}")


def request(
    affiliates: AffiliateRepository,
    ledger: Ledger,
    corp_id: str,
    affiliate_id: str,
    body: WithdrawalInput,
    now: datetime,
) -> Record:
    """Ask to withdraw: ≥ the threshold, ≤ the withdrawable balance, reserved atomically."""
    require_profile(affiliates, corp_id, affiliate_id)
    withdrawal_id = withdrawal_id_for(corp_id, affiliate_id, body.request_id)
    existing = affiliates.withdrawal(corp_id, withdrawal_id)
    if existing is not None:
        return _same_request(existing, body)
    settings = affiliates.settings(corp_id)
    if body.amount_fen < settings.withdrawal_threshold_fen:
        raise InvalidInput(
            f"the least you can withdraw is {settings.withdrawal_threshold_fen} fen", field="amount_fen"
        )
    owner = account(corp_id, affiliate_id)
    if body.amount_fen > ledger.balance(owner).withdrawable:
        raise InsufficientBalance("the amount exceeds your withdrawable balance", field="amount_fen")
    payout_id = _payout_id(corp_id, withdrawal_id)
    item: Record = {
        "withdrawal_id": withdrawal_id,
        "affiliate_id": affiliate_id,
        "amount_fen": body.amount_fen,
        "status": "pending_review",
        "payout_id": payout_id,
        "requested_at": iso_utc(now),
        "history": [f"{iso_utc(now)} requested"],
    }
    if body.payee_account is not None:
        item["payee_account"] = body.payee_account.model_dump(mode="json")
    reserve = postings.reserve(owner, payout_id, body.amount_fen, now)
    try:
        affiliates.commit(corp_id, [Posted((reserve,), now), WithdrawalRequested(item)])
        return item
    except Stale:
        pass  # the withdrawal exists: the same request, sent twice at once
    except InsufficientBalance:
        raise InsufficientBalance(
            "the amount exceeds your withdrawable balance", field="amount_fen"
        ) from None
    found = affiliates.withdrawal(corp_id, withdrawal_id)
    if found is None:
        raise ConcurrentModification("the same withdrawal is being requested; send it again")
    return _same_request(found, body)


def _same_request(found: Record, body: WithdrawalInput) -> Record:
    """A request id seen before: the same withdrawal, unless it asked for another amount."""
    if int(found["amount_fen"]) != body.amount_fen:
        raise Conflict("request_id was used for another amount", field="request_id")
    return found


def get(affiliates: AffiliateRepository, corp_id: str, withdrawal_id: str) -> Record:
    item = affiliates.withdrawal(corp_id, withdrawal_id)
    if item is None:
        raise NotFound(f"no withdrawal {withdrawal_id}", field="withdrawal_id")
    return item


def _transition(
    affiliates: AffiliateRepository,
    corp_id: str,
    item: Record,
    status: str,
    note: str,
    now: datetime,
    extra: list[Change],
    **changes: Any,
) -> Record:
    moved = WithdrawalMoved(
        item["withdrawal_id"],
        item["status"],
        {"status": status, "history": [*item["history"], f"{iso_utc(now)} {note}"], **changes},
    )
    try:
        affiliates.commit(corp_id, [moved, *extra])
    except Stale:
        raise Conflict("the withdrawal changed meanwhile", field="status") from None
    return get(affiliates, corp_id, item["withdrawal_id"])


def _expect(item: Record, *statuses: str) -> None:
    if item["status"] not in statuses:
        raise Conflict(f"the withdrawal is {item['status']}", field="status")


def reject(
    affiliates: AffiliateRepository,
    corp_id: str,
    withdrawal_id: str,
    body: Rejection,
    actor: str,
    now: datetime,
) -> Record:
    """Refuse a pending withdrawal: its amount is withdrawable again."""
    item = get(affiliates, corp_id, withdrawal_id)
    _expect(item, "pending_review")
    release = postings.release(
        account(corp_id, item["affiliate_id"]), item["payout_id"], int(item["amount_fen"]), now
    )
    return _transition(
        affiliates,
        corp_id,
        item,
        "rejected",
        f"rejected by {actor}: {body.reason}",
        now,
        [Posted((release,), now)],
        reason=body.reason,
    )


def approve(
    affiliates: AffiliateRepository,
    queue: PayoutQueue,
    corp_id: str,
    withdrawal_id: str,
    body: Approval,
    actor: str,
    now: datetime,
) -> Record:
    """Approve: automatic settlement queues the payout; manual waits for the operator's reference."""
    item = get(affiliates, corp_id, withdrawal_id)
    _expect(item, "pending_review")
    if body.settlement is Settlement.MANUAL:
        if not item.get("payee_account"):
            raise Conflict(
                "the affiliate gave no WeChat or Alipay account to transfer to; approve it for an "
                "automatic payment or reject it",
                field="settlement",
            )
        return _transition(
            affiliates,
            corp_id,
            item,
            "approved",
            f"approved by {actor} (manual transfer)",
            now,
            [],
            settlement="manual",
        )
    payout = new_payout(affiliates, corp_id, item, ProviderName.WECHAT_TRANSFER, now)
    done = _transition(
        affiliates,
        corp_id,
        item,
        "paying",
        f"approved by {actor}, payout {payout.payout_id}",
        now,
        [PayoutCreated(payout)],
        settlement="auto",
    )
    from incentives.payouts.creation import enqueue

    enqueue(queue, payout)
    return done


def settle_manually(
    affiliates: AffiliateRepository,
    corp_id: str,
    withdrawal_id: str,
    body: ManualSettlement,
    actor: str,
    now: datetime,
) -> Record:
    """The operator transferred the money outside the system: record it as paid, with the reference."""
    item = get(affiliates, corp_id, withdrawal_id)
    _expect(item, "approved")
    payout, paid = _paying(affiliates, corp_id, item, ProviderName.OFFLINE, now, reference=body.reference)
    return _transition(
        affiliates,
        corp_id,
        item,
        "paid",
        f"paid manually, confirmed by {actor} ({body.reference})",
        now,
        [PayoutCreated(payout), Posted(tuple(paid), now)],
        reference=body.reference,
        paid_at=iso_utc(now),
    )


def cancel(
    affiliates: AffiliateRepository,
    payouts: Payouts,
    corp_id: str,
    withdrawal_id: str,
    actor: str,
    now: datetime,
) -> Record:
    """Give up on a withdrawal whose automatic payment failed for good: the amount is
    withdrawable again (refused while the provider may still have paid it)."""
    from incentives.payouts.actions import cancel as cancel_payout

    item = get(affiliates, corp_id, withdrawal_id)
    _expect(item, "paying")
    payout = payouts.get(corp_id, item["payout_id"])
    if payout is None or payout.status is not PayoutStatus.CANCELLED:  # not already, before a crash
        cancel_payout(payouts, corp_id, item["payout_id"], now, actor)
    return _transition(affiliates, corp_id, item, "cancelled", f"cancelled by {actor}; released", now, [])


def new_payout(
    affiliates: AffiliateRepository, corp_id: str, item: Record, provider: ProviderName, now: datetime
) -> Payout:
    """The payout that pays a withdrawal (its id follows from the withdrawal's)."""
    return _paying(affiliates, corp_id, item, provider, now)[0]


def _paying(
    affiliates: AffiliateRepository,
    corp_id: str,
    item: Record,
    provider: ProviderName,
    now: datetime,
    reference: str | None = None,
) -> tuple[Payout, list[Entry]]:
    """The withdrawal's payout and its entries (its amount was reserved at the request; an
    offline payout is paid at once under ``reference``), made the one way payouts are made."""
    from incentives.payouts.creation import PayoutRequest, new_payout

    affiliate = require_profile(affiliates, corp_id, item["affiliate_id"])
    payee = Payee(
        account(corp_id, item["affiliate_id"]),
        openid=affiliate.get("openid", ""),
        name=affiliate.get("name", ""),
    )
    return new_payout(
        PayoutRequest(
            f"withdrawal:{item['withdrawal_id']}", payee, int(item["amount_fen"]), provider, "微客佣金提现"
        ),
        now,
        reserved=True,
        reference=reference,
    )


def listing(affiliates: AffiliateRepository, corp_id: str, affiliate_id: str | None = None) -> list[Record]:
    return affiliates.withdrawals(corp_id, affiliate_id)


def listing_page(
    affiliates: AffiliateRepository,
    corp_id: str,
    affiliate_id: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> RecordPage:
    """A page of withdrawals newest first, optionally those that show ``status`` (a withdrawal
    paying shows its payout's progress, which the payout's writes keep on the withdrawal as
    ``listed_status``): the tenant's through the index of that status, one affiliate's through
    their own partition, kept by it. Every page but the last is full."""
    if status is None:
        return affiliates.withdrawals_page(corp_id, affiliate_id, limit, cursor)
    if affiliate_id is None:
        return affiliates.withdrawals_by_status_page(corp_id, status, limit, cursor)
    shows = status
    return affiliates.withdrawals_page(
        corp_id, affiliate_id, limit, cursor, lambda item: item.get("listed_status") == shows
    )
