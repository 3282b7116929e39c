"""What a withdrawal asks and shows (seed 003 结算中心): the request, the payee account of a
manual transfer (masked but for the reviewing admin), the review's inputs, and the view."""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from incentives.affiliates.application import mask_mobile
from incentives.affiliates.ports import Payouts
from incentives.core.clock import iso_utc
from incentives.core.money import Fen
from incentives.payouts.model import Payout, PayoutStatus

if TYPE_CHECKING:
    pass


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


def view(item: dict[str, Any], payouts: Payouts, corp_id: str, *, reviewer: bool = False) -> dict[str, Any]:
    """A withdrawal with its payout's progress (an automatic one follows its payout). The payee
    account is masked except for the ``reviewer`` (the merchant's admin) while a manual transfer
    to it may still be due (pending review or approved). While the transfer waits for the
    affiliate (``awaiting_confirmation``), ``confirmation`` is what the mini program passes to
    ``wx.requestMerchantTransfer`` (``mchId``, ``appId``, ``package``) before ``confirm_by``; a
    transfer closed unpaid shows ``cancelled`` and its amount is withdrawable again."""
    payout = payouts.get(corp_id, item["payout_id"]) if item["status"] == "paying" else None
    return _view(item, payout, reviewer)


def views(
    items: Sequence[dict[str, Any]], payouts: Payouts, corp_id: str, *, reviewer: bool = False
) -> list[dict[str, Any]]:
    """A page of withdrawals as :func:`view` shows them, the payouts they follow read together."""
    wanted = [(corp_id, item["payout_id"]) for item in items if item["status"] == "paying"]
    found = {payout.payout_id: payout for payout in payouts.get_many(wanted)} if wanted else {}
    return [
        _view(item, found.get(item["payout_id"]) if item["status"] == "paying" else None, reviewer)
        for item in items
    ]


def progress(payout: Payout) -> str:
    """The status a withdrawal paying through ``payout`` shows (in its view and in the listing by
    status, whose key the payout's writes move)."""
    if payout.status is PayoutStatus.PAID:
        return "paid"
    if payout.status in (PayoutStatus.FAILED, PayoutStatus.CANCELLED):
        return payout.status.value
    if payout.status is PayoutStatus.AWAITING_CONFIRMATION and payout.confirmation is not None:
        return "awaiting_confirmation"
    return "paying"


def _view(item: dict[str, Any], payout: Payout | None, reviewer: bool) -> dict[str, Any]:
    status = item["status"] if payout is None else progress(payout)
    failure = confirmation = confirm_by = None
    if payout is not None:
        if status in ("failed", "cancelled"):
            failure = payout.failure_reason
        elif status == "awaiting_confirmation" and payout.confirmation is not None:
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
