"""Answers of the affiliate APIs (the distribution center and the affiliate console)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, with_config
from typing_extensions import TypedDict

from incentives.affiliates.application import ApplicationSettings
from incentives.affiliates.distribution import Center, CommissionRecord
from incentives.affiliates.ports import ShareTotals
from incentives.affiliates.program import ProgramSettings, Url

PASS_THROUGH = ConfigDict(extra="allow")
"""A key the domain adds to a view later is answered as it is, not dropped."""


@with_config(PASS_THROUGH)
class AffiliateProfile(TypedDict):
    """An affiliate as the console shows them."""

    affiliate_id: str
    name: str
    status: str
    upline_id: str | None
    joined_at: str
    stores: list[str] | None
    """Stores they may promote; null: every store."""
    stores_set_by: str
    """``merchant`` (set for this affiliate) or ``program`` (the program's default)."""
    approved_stores: list[str]
    types: list[str]
    level_rate_bp: int | None


@with_config(PASS_THROUGH)
class AffiliateWithCenter(AffiliateProfile):
    """An affiliate with their distribution center's figures."""

    center: Center


@with_config(PASS_THROUGH)
class ApplicationView(TypedDict):
    """An application to become an affiliate (mobile and ID number masked)."""

    customer_id: str
    status: str
    reason: str
    answers: dict[str, Any]
    """The merchant's form as answered, keyed by field."""
    invited_by: str | None
    submitted_at: str
    reviewed_at: str | None
    reviewed_by: str | None


@with_config(PASS_THROUGH)
class StoreApplicationView(TypedDict):
    """An affiliate's application to promote a store."""

    affiliate_id: str
    store_id: str
    status: str
    submitted_at: str | None
    reviewed_at: str | None


@with_config(PASS_THROUGH)
class TransferConfirmation(TypedDict):
    """What the mini program passes to ``wx.requestMerchantTransfer``."""

    mch_id: str
    app_id: str
    package_info: str


@with_config(PASS_THROUGH)
class WithdrawalView(TypedDict):
    """A withdrawal with its payout's progress."""

    withdrawal_id: str
    affiliate_id: str
    amount_fen: int
    status: str
    settlement: str | None
    payout_id: str
    reference: str | None
    failure_reason: str | None
    reason: str | None
    payee_account: dict[str, str] | None
    """Masked, except for the reviewer while a manual transfer to it may still be due."""
    confirmation: TransferConfirmation | None
    confirm_by: str | None
    requested_at: str
    history: list[str]


@with_config(PASS_THROUGH)
class BoundCustomer(TypedDict):
    customer_id: str
    bound_at: str


@with_config(PASS_THROUGH)
class DownlineMember(TypedDict):
    affiliate_id: str
    name: str
    joined_at: str


@with_config(PASS_THROUGH)
class Eligibility(TypedDict):
    eligible: bool
    met: list[str]
    unmet: list[str]


class ProgramForApplicants(BaseModel):
    """The program as an applicant sees it, with whether they may apply now."""

    display_name: str
    invitation_title: str
    invitation_image_url: Url | None
    application: ApplicationSettings
    withdrawal_threshold_fen: int
    my_eligibility: Eligibility

    @classmethod
    def of(cls, program: ProgramSettings, eligibility: dict[str, Any]) -> ProgramForApplicants:
        return cls(
            display_name=program.display_name,
            invitation_title=program.invitation_title,
            invitation_image_url=program.invitation_image_url,
            application=program.application,
            withdrawal_threshold_fen=program.withdrawal_threshold_fen,
            my_eligibility=Eligibility(
                eligible=eligibility["eligible"], met=eligibility["met"], unmet=eligibility["unmet"]
            ),
        )


class CommissionPage(BaseModel):
    """One page of commission records, with the tenant's maintained totals of what matched."""

    items: list[CommissionRecord]
    next_cursor: str | None
    records: int | None = Field(
        description="Records that matched, on every page; kept as the records are written, so given "
        "for the whole tenant over whole UTC days (from at 00:00:00.000Z, to at 23:59:59.999Z), "
        "null for other filters (the CSV export has every match)"
    )
    total_commission_fen: int | None
    total_net_fen: int | None

    @classmethod
    def of(
        cls, page: Sequence[CommissionRecord], next_cursor: str | None, totals: ShareTotals | None
    ) -> CommissionPage:
        return cls(
            items=list(page),
            next_cursor=next_cursor,
            records=totals.records if totals else None,
            total_commission_fen=totals.commission_fen if totals else None,
            total_net_fen=totals.net_fen if totals else None,
        )


@with_config(PASS_THROUGH)
class AffiliatePage(TypedDict):
    """A page of affiliates, newest first; ``next_cursor`` continues it (null: the last page)."""

    items: list[AffiliateProfile]
    next_cursor: str | None


@with_config(PASS_THROUGH)
class ApplicationPage(TypedDict):
    items: list[ApplicationView]
    next_cursor: str | None


@with_config(PASS_THROUGH)
class StoreApplicationPage(TypedDict):
    items: list[StoreApplicationView]
    next_cursor: str | None


@with_config(PASS_THROUGH)
class WithdrawalPage(TypedDict):
    """A page of withdrawals, newest first (a status is the index key: every page but the last is full)."""

    items: list[WithdrawalView]
    next_cursor: str | None
