"""Withdrawals of settled commission (SPEC §4.4 "Withdrawals", seed 003 结算中心).

request → ``pending_review`` (the amount is reserved at once, atomically with the request,
so two concurrent requests can never overdraw) → ``rejected`` (released) or approved, then
paid either manually (the operator transfers and confirms with a reference; recorded
offline) or automatically through the payout queue (WeChat Pay transfer, ``out_bill_no`` =
the payout id). The payout's state is the withdrawal's state from then on.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from incentives.affiliates import store
from incentives.affiliates.application import mask_mobile
from incentives.affiliates.membership import require_profile
from incentives.affiliates.store import account
from incentives.core.clock import iso_utc
from incentives.core.errors import ConcurrentModification, Conflict, InvalidInput, NotFound
from incentives.core.money import Fen
from incentives.ledger import postings
from incentives.payouts.model import Payee, PayoutStatus, ProviderName, payout_id_for
from incentives.storage.ledger import InsufficientBalance, LedgerRepository, posting_writes
from incentives.storage.table import ConditionFailed, Equals, NotExists, Put, Table, Update, Write

if TYPE_CHECKING:
    from incentives.ledger.model import Entry
    from incentives.payouts.model import Payout
    from incentives.payouts.service import PayoutQueue
    from incentives.storage.payouts import PayoutRepository

REQUEST_ID = r"^[A-Za-z0-9_\-]{1,64}$"


class Settlement(StrEnum):
    AUTO = "auto"
    """Through the payout queue: WeChat Pay transfer to the affiliate's wallet."""
    MANUAL = "manual"
    """The merchant transfers outside the system, then confirms with a reference."""


WECHAT_ID = r"^[A-Za-z][-_A-Za-z0-9]{5,19}$"
MOBILE = r"^1[3-9][0-9]{9}$"
EMAIL = r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,185}\.[A-Za-z]{2,24}$"


class PayeeChannel(StrEnum):
    WECHAT = "wechat"
    ALIPAY = "alipay"


class PayeeAccount(BaseModel):
    """Where the merchant sends a manual transfer (seed 003: "提现申请时填写的微信或支付宝账号")."""

    model_config = ConfigDict(extra="forbid")

    channel: PayeeChannel
    account: str = Field(
        min_length=1,
        max_length=254,
        description="WeChat: a WeChat ID or its mobile; Alipay: the mobile or email of the account",
    )
    name: str = Field(min_length=1, max_length=30, description="The account holder's real name")

    @field_validator("account")
    @classmethod
    def _account_fits_its_channel(cls, account: str, info: ValidationInfo) -> str:
        channel = info.data.get("channel")
        patterns = (WECHAT_ID, MOBILE) if channel is PayeeChannel.WECHAT else (MOBILE, EMAIL)
        if channel is not None and not any(re.fullmatch(pattern, account) for pattern in patterns):
            kind = "a WeChat ID or a mobile" if channel is PayeeChannel.WECHAT else "a mobile or an email"
            raise ValueError(f"must be {kind} for {channel.value}")
        return account

    def masked(self) -> dict[str, str]:
        """Fit for any answer but the reviewing admin's: the account's middle and the name hidden."""
        if re.fullmatch(MOBILE, self.account):
            account = mask_mobile(self.account)
        elif "@" in self.account:
            local, domain = self.account.split("@", 1)
            account = f"{local[:2]}{'*' * max(1, len(local) - 2)}@{domain}"
        else:
            account = self.account[:2] + "*" * (len(self.account) - 4) + self.account[-2:]
        name = self.name[:1] + "*" * (len(self.name) - 1)
        return {"channel": self.channel.value, "account": account, "name": name}


class WithdrawalInput(BaseModel):
    amount_fen: Annotated[Fen, Field(ge=1, le=2_000_000_000)]
    request_id: str = Field(
        pattern=REQUEST_ID, description="Chosen by the client; sending it again returns the same withdrawal"
    )
    payee_account: PayeeAccount | None = Field(
        default=None, description="Needed when the merchant settles by hand (a manual transfer)"
    )


class Approval(BaseModel):
    settlement: Settlement = Settlement.AUTO


class Rejection(BaseModel):
    reason: str = Field(min_length=1, max_length=200)


class ManualSettlement(BaseModel):
    reference: str = Field(
        min_length=1, max_length=64, description="The transfer's reference (bank, Alipay …)"
    )


def withdrawal_id_for(corp_id: str, affiliate_id: str, request_id: str) -> str:
    return "wd" + hashlib.sha256(f"{corp_id}|{affiliate_id}|{request_id}".encode()).hexdigest()[:30]


def _payout_id(corp_id: str, withdrawal_id: str) -> str:
    return payout_id_for(corp_id, f"withdrawal:{withdrawal_id}")


def request(
    table: Table,
    ledger: LedgerRepository,
    corp_id: str,
    affiliate_id: str,
    body: WithdrawalInput,
    now: datetime,
) -> dict[str, Any]:
    """Ask to withdraw: ≥ the threshold, ≤ the withdrawable balance, reserved atomically."""
    require_profile(table, corp_id, affiliate_id)
    withdrawal_id = withdrawal_id_for(corp_id, affiliate_id, body.request_id)
    existing = table.get(store.withdrawal_key(corp_id, withdrawal_id))
    if existing is not None:
        return _same_request(existing, body)
    settings = store.load_settings(table, corp_id)
    if body.amount_fen < settings.withdrawal_threshold_fen:
        raise InvalidInput(
            f"the least you can withdraw is {settings.withdrawal_threshold_fen} fen", field="amount_fen"
        )
    owner = account(corp_id, affiliate_id)
    if body.amount_fen > ledger.balance(owner).withdrawable:
        raise InsufficientBalance("the amount exceeds your withdrawable balance", field="amount_fen")
    payout_id = _payout_id(corp_id, withdrawal_id)
    item = {
        **store.withdrawal_key(corp_id, withdrawal_id),
        "kind": "affiliate_withdrawal",
        "withdrawal_id": withdrawal_id,
        "affiliate_id": affiliate_id,
        "amount_fen": body.amount_fen,
        "status": "pending_review",
        "payout_id": payout_id,
        "requested_at": iso_utc(now),
        "history": [f"{iso_utc(now)} requested"],
        "gsi2pk": store.tenant_list(corp_id, "AFF_WITHDRAWALS"),
        "gsi2sk": f"{iso_utc(now)}#{withdrawal_id}",
        "gsi3pk": store.own_list(corp_id, "AFF_WITHDRAWALS", affiliate_id),
        "gsi3sk": f"{iso_utc(now)}#{withdrawal_id}",
    }
    if body.payee_account is not None:
        item["payee_account"] = body.payee_account.model_dump(mode="json")
    reserve = postings.reserve(owner, payout_id, body.amount_fen, now)
    try:
        if ledger.post([reserve], now, extra=[Put(item, (NotExists(),))]):
            return item
    except ConditionFailed:
        pass  # the withdrawal exists: the same request, sent twice at once
    except InsufficientBalance:
        raise InsufficientBalance(
            "the amount exceeds your withdrawable balance", field="amount_fen"
        ) from None
    found = table.get(store.withdrawal_key(corp_id, withdrawal_id))
    if found is None:
        raise ConcurrentModification("the same withdrawal is being requested; send it again")
    return _same_request(found, body)


def _same_request(found: dict[str, Any], body: WithdrawalInput) -> dict[str, Any]:
    """A request id seen before: the same withdrawal, unless it asked for another amount."""
    if int(found["amount_fen"]) != body.amount_fen:
        raise Conflict("request_id was used for another amount", field="request_id")
    return found


def get(table: Table, corp_id: str, withdrawal_id: str) -> dict[str, Any]:
    item = table.get(store.withdrawal_key(corp_id, withdrawal_id))
    if item is None:
        raise NotFound(f"no withdrawal {withdrawal_id}", field="withdrawal_id")
    return item


def _transition(
    table: Table,
    corp_id: str,
    item: dict[str, Any],
    status: str,
    note: str,
    now: datetime,
    extra: list[Write],
    **changes: Any,
) -> dict[str, Any]:
    update = Update(
        store.withdrawal_key(corp_id, item["withdrawal_id"]),
        set={"status": status, "history": [*item["history"], f"{iso_utc(now)} {note}"], **changes},
        conditions=(Equals("status", item["status"]),),
    )
    try:
        table.transact([update, *extra])
    except ConditionFailed:
        raise Conflict("the withdrawal changed meanwhile", field="status") from None
    return get(table, corp_id, item["withdrawal_id"])


def _expect(item: dict[str, Any], *statuses: str) -> None:
    if item["status"] not in statuses:
        raise Conflict(f"the withdrawal is {item['status']}", field="status")


def reject(
    table: Table, corp_id: str, withdrawal_id: str, body: Rejection, actor: str, now: datetime
) -> dict[str, Any]:
    """Refuse a pending withdrawal: its amount is withdrawable again."""
    item = get(table, corp_id, withdrawal_id)
    _expect(item, "pending_review")
    release = postings.release(
        account(corp_id, item["affiliate_id"]), item["payout_id"], int(item["amount_fen"]), now
    )
    return _transition(
        table,
        corp_id,
        item,
        "rejected",
        f"rejected by {actor}: {body.reason}",
        now,
        posting_writes([release], now),
        reason=body.reason,
    )


def approve(
    table: Table,
    queue: PayoutQueue,
    corp_id: str,
    withdrawal_id: str,
    body: Approval,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Approve: automatic settlement queues the payout; manual waits for the operator's reference."""
    item = get(table, corp_id, withdrawal_id)
    _expect(item, "pending_review")
    if body.settlement is Settlement.MANUAL:
        if not item.get("payee_account"):
            raise Conflict(
                "the affiliate gave no WeChat or Alipay account to transfer to; approve it for an "
                "automatic payment or reject it",
                field="settlement",
            )
        return _transition(
            table,
            corp_id,
            item,
            "approved",
            f"approved by {actor} (manual transfer)",
            now,
            [],
            settlement="manual",
        )
    from incentives.payouts.service import enqueue

    payout, _reserved_at_request = _payout(table, corp_id, item, ProviderName.WECHAT_TRANSFER, now)
    done = _transition(
        table,
        corp_id,
        item,
        "paying",
        f"approved by {actor}, payout {payout.payout_id}",
        now,
        [_creation_write(payout)],
        settlement="auto",
    )
    enqueue(queue, payout)
    return done


def settle_manually(
    table: Table, corp_id: str, withdrawal_id: str, body: ManualSettlement, actor: str, now: datetime
) -> dict[str, Any]:
    """The operator transferred the money outside the system: record it as paid, with the reference."""
    item = get(table, corp_id, withdrawal_id)
    _expect(item, "approved")
    payout, paid = _payout(table, corp_id, item, ProviderName.OFFLINE, now, reference=body.reference)
    return _transition(
        table,
        corp_id,
        item,
        "paid",
        f"paid manually, confirmed by {actor} ({body.reference})",
        now,
        [_creation_write(payout), *posting_writes(paid, now)],
        reference=body.reference,
        paid_at=iso_utc(now),
    )


def cancel(
    table: Table, payouts: PayoutRepository, corp_id: str, withdrawal_id: str, actor: str, now: datetime
) -> dict[str, Any]:
    """Give up on a withdrawal whose automatic payment failed for good: the amount is
    withdrawable again (refused while the provider may still have paid it)."""
    from incentives.payouts.service import cancel as cancel_payout

    item = get(table, corp_id, withdrawal_id)
    _expect(item, "paying")
    payout = payouts.get(corp_id, item["payout_id"])
    if payout is None or payout.status is not PayoutStatus.CANCELLED:  # not already, before a crash
        cancel_payout(payouts, corp_id, item["payout_id"], now, actor)
    return _transition(table, corp_id, item, "cancelled", f"cancelled by {actor}; released", now, [])


def _creation_write(payout: Payout) -> Write:
    from incentives.storage.payouts import PayoutRepository

    return PayoutRepository.creation_write(payout)


def _payout(
    table: Table,
    corp_id: str,
    item: dict[str, Any],
    provider: ProviderName,
    now: datetime,
    reference: str | None = None,
) -> tuple[Payout, list[Entry]]:
    """The withdrawal's payout (its amount was reserved at the request) and its entries."""
    from incentives.payouts.service import PayoutRequest, new_payout

    affiliate = require_profile(table, corp_id, item["affiliate_id"])
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


def view(
    item: dict[str, Any], payouts: PayoutRepository, corp_id: str, *, reviewer: bool = False
) -> dict[str, Any]:
    """A withdrawal with its payout's progress (an automatic one follows its payout). The payee
    account is masked except for the ``reviewer`` (the merchant's admin) while a manual transfer
    to it may still be due (pending review or approved). While the transfer waits for the
    affiliate (``awaiting_confirmation``), ``confirmation`` is what the mini program passes to
    ``wx.requestMerchantTransfer`` (``mchId``, ``appId``, ``package``) before ``confirm_by``; a
    transfer closed unpaid shows ``cancelled`` and its amount is withdrawable again."""
    status = item["status"]
    payout = payouts.get(corp_id, item["payout_id"]) if status == "paying" else None
    failure = confirmation = confirm_by = None
    if payout is not None:
        if payout.status is PayoutStatus.PAID:
            status = "paid"
        elif payout.status is PayoutStatus.FAILED:
            status, failure = "failed", payout.failure_reason
        elif payout.status is PayoutStatus.CANCELLED:
            status, failure = "cancelled", payout.failure_reason
        elif payout.status is PayoutStatus.AWAITING_CONFIRMATION and payout.confirmation is not None:
            status = "awaiting_confirmation"
            confirmation = {
                "mch_id": payout.confirmation.mch_id,
                "app_id": payout.confirmation.app_id,
                "package_info": payout.confirmation.package_info,
            }
            confirm_by = iso_utc(payout.confirm_by) if payout.confirm_by else None
    return {
        "withdrawal_id": item["withdrawal_id"],
        "affiliate_id": item["affiliate_id"],
        "amount_fen": int(item["amount_fen"]),
        "status": status,
        "settlement": item.get("settlement"),
        "payout_id": item["payout_id"],
        "reference": item.get("reference") or (payout.transaction_id if payout else None),
        "failure_reason": failure,
        "reason": item.get("reason"),
        "payee_account": _payee_view(item, reviewer),
        "confirmation": confirmation,
        "confirm_by": confirm_by,
        "requested_at": item["requested_at"],
        "history": item["history"],
    }


def _payee_view(item: dict[str, Any], reviewer: bool) -> dict[str, str] | None:
    if not item.get("payee_account"):
        return None
    payee = PayeeAccount.model_validate(item["payee_account"])
    if reviewer and item["status"] in ("pending_review", "approved"):
        return payee.model_dump(mode="json")
    return payee.masked()


def listing(table: Table, corp_id: str, affiliate_id: str | None = None) -> list[dict[str, Any]]:
    if affiliate_id:
        return store.query_all(table, store.own_list(corp_id, "AFF_WITHDRAWALS", affiliate_id), index="gsi3")
    return store.query_all(table, store.tenant_list(corp_id, "AFF_WITHDRAWALS"), index="gsi2")
