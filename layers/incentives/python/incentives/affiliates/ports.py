"""What the affiliate services read and commit; the adapter is ``incentives.storage.affiliates``.

Reads return records: an affiliate's profile, an application, a binding, a commission share or
a withdrawal, as mappings of their attributes (the record's fields are named in
docs/data-model.md; keys and indexes are the adapter's alone). The services decide and return
*changes* (the dataclasses of :mod:`incentives.affiliates.changes`, re-exported here);
:meth:`AffiliateRepository.commit` writes a list of them in one transaction, all or nothing,
and raises :class:`Stale` naming the changes whose precondition no longer held.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from incentives.affiliates.changes import (
    ActivityCounted,
    ActivitySet,
    AffiliateJoined,
    ApplicationReviewed,
    ApplicationSubmitted,
    BindingSaved,
    Change,
    CommissionDecided,
    DecisionUnchanged,
    FiguresAdded,
    HoldReduced,
    HoldScheduled,
    InvitedMember,
    LevelFigures,
    LevelSource,
    OrderSaved,
    PayoutCreated,
    Posted,
    ProductsBought,
    ProfileChanged,
    Record,
    ShareChanged,
    ShareCompleted,
    Stale,
    StoreApplied,
    StoreReviewed,
    TooLarge,
    WithdrawalMoved,
    WithdrawalRequested,
)
from incentives.levels.ports import AppliedSource, LevelRepository, Standing, StoredLevels
from incentives.orders.ports import OrderRepository

if TYPE_CHECKING:
    from incentives.affiliates.program import ProgramSettings
    from incentives.ledger.model import Account, Balance
    from incentives.ledger.postings import Hold
    from incentives.orders.aggregate import OrderState
    from incentives.payouts.model import Payout


@dataclass(frozen=True)
class PaymentContext:
    """What ``order.paid`` needs, read at once: the order, whether it was decided or counted
    before, the program, the buyer, their binding and levels, and the link's affiliate."""

    order: OrderState | None
    decided: bool
    settings: ProgramSettings
    buyer: Record | None
    binding: Record | None
    counted: bool
    levels: StoredLevels | None
    buyer_standing: Standing
    level_figures_seen: bool
    source: Record | None


@dataclass(frozen=True)
class OrderContext:
    """What a refund or a completion of a decided order needs, read at once: the order, its
    commission decision and shares (by role), the program and the order's level figures."""

    order: OrderState | None
    decision: Record | None
    shares: dict[str, Record]
    settings: ProgramSettings
    level_figures: AppliedSource | None


# --- the repositories -------------------------------------------------------------------------------


class Payouts(Protocol):
    def get(self, corp_id: str, payout_id: str) -> Payout | None: ...

    def get_many(self, keys: Sequence[tuple[str, str]]) -> list[Payout]:
        """The payouts of ``(corp_id, payout_id)`` pairs that exist, in one round trip."""
        ...


class Ledger(Protocol):
    """What the affiliate services read of the ledger (their postings commit as :class:`Posted`)."""

    def balance(self, account: Account) -> Balance: ...

    def hold(self, account: Account, credit_id: str) -> Hold | None: ...

    def schedule(self, account: Account, credit_id: str, hold_until: datetime) -> bool:
        """Give a waiting hold its date; False when the hold is gone (settled or fully reversed)."""
        ...


Keep = Callable[[Record], bool]


@dataclass(frozen=True)
class RecordPage:
    """One page of a listing and the cursor of the next (``None``: the last page)."""

    records: list[Record]
    cursor: str | None


@dataclass(frozen=True)
class ShareQuery:
    """A page of commission shares: paid at or after ``since`` and at or before ``until`` (RFC
    3339 as stored, a key condition), the ones ``keep`` accepts."""

    limit: int
    cursor: str | None = None
    since: str | None = None
    until: str | None = None
    keep: Keep | None = None


@dataclass(frozen=True)
class ShareTotals:
    """Maintained with each share: how many, their commission and what is left after refunds."""

    records: int
    commission_fen: int
    net_fen: int


class AffiliateRepository(Protocol):
    @property
    def levels(self) -> LevelRepository:
        """The affiliate levels, in the same store (their changes commit here too)."""
        ...

    def settings(self, corp_id: str) -> ProgramSettings:
        """The program's settings (the defaults until the merchant saves some)."""
        ...

    def save_settings(self, corp_id: str, settings: ProgramSettings, now: datetime) -> None: ...

    def profile(self, corp_id: str, affiliate_id: str) -> Record | None:
        """The affiliate's profile, whatever its status."""
        ...

    def application(self, corp_id: str, customer_id: str) -> Record | None: ...

    def store_application(self, corp_id: str, affiliate_id: str, store_id: str) -> Record | None: ...

    def activity(self, corp_id: str, customer_id: str) -> Record:
        """The customer's activity counters (empty when nothing was recorded)."""
        ...

    def bought(self, corp_id: str, customer_id: str, product_ids: Sequence[str]) -> frozenset[str]:
        """Which of ``product_ids`` the customer bought."""
        ...

    def counted(self, corp_id: str, customer_id: str, source: str) -> bool:
        """Whether that source of activity was counted already."""
        ...

    def binding(self, corp_id: str, customer_id: str) -> Record | None: ...

    def stats(self, corp_id: str, affiliate_id: str) -> Record: ...

    def day(self, corp_id: str, affiliate_id: str, day: str) -> Record: ...

    def decision(self, corp_id: str, order_id: str) -> Record | None: ...

    def share(self, corp_id: str, order_id: str, role: str) -> Record | None: ...

    def withdrawal(self, corp_id: str, withdrawal_id: str) -> Record | None: ...

    def affiliates(self, corp_id: str) -> list[Record]:
        """Every affiliate of the tenant, newest first."""
        ...

    def applications(self, corp_id: str) -> list[Record]: ...

    def store_applications(self, corp_id: str) -> list[Record]: ...

    def downline(self, corp_id: str, affiliate_id: str) -> list[Record]:
        """The affiliates ``affiliate_id`` invited, newest first."""
        ...

    def customers(self, corp_id: str, affiliate_id: str) -> list[Record]:
        """Bindings whose current affiliate is ``affiliate_id`` (expired ones included)."""
        ...

    def shares(self, corp_id: str, beneficiary_id: str | None = None) -> list[Record]:
        """Commission shares newest first: one beneficiary's, or the tenant's."""
        ...

    def unattributed(self, corp_id: str, customer_id: str) -> list[Record]:
        """Decisions on the customer's orders that attributed them to nobody, oldest first."""
        ...

    def late_attributed(self, corp_id: str, customer_id: str) -> list[Record]:
        """Decisions a late click made in place of one that attributed the order to nobody."""
        ...

    def withdrawals(self, corp_id: str, affiliate_id: str | None = None) -> list[Record]: ...

    # Paged listings: each page costs the same round trips whatever the tenant holds; ``keep``
    # drops records after the index read (a page stays full, see incentives.storage.sharded).

    def affiliates_page(self, corp_id: str, limit: int, cursor: str | None) -> RecordPage:
        """A page of the tenant's affiliates, newest first."""
        ...

    def applications_page(
        self, corp_id: str, limit: int, cursor: str | None, keep: Keep | None = None
    ) -> RecordPage:
        """A page of the tenant's applications, newest first."""
        ...

    def store_applications_page(
        self, corp_id: str, limit: int, cursor: str | None, keep: Keep | None = None
    ) -> RecordPage:
        """A page of the tenant's applications to promote a store, newest first."""
        ...

    def shares_page(self, corp_id: str, beneficiary_id: str | None, query: ShareQuery) -> RecordPage:
        """A page of commission shares newest first (one beneficiary's, or the tenant's), paid
        within ``query``'s bounds (a key condition)."""
        ...

    def share_totals(self, corp_id: str, first_day: str | None, last_day: str | None) -> ShareTotals:
        """The tenant's maintained commission totals over paid days (UTC, inclusive)."""
        ...

    def withdrawals_page(
        self, corp_id: str, affiliate_id: str | None, limit: int, cursor: str | None, keep: Keep | None = None
    ) -> RecordPage:
        """A page of withdrawals, newest first (one affiliate's, or the tenant's)."""
        ...

    def withdrawals_by_status_page(
        self, corp_id: str, status: str, limit: int, cursor: str | None
    ) -> RecordPage:
        """A page of the tenant's withdrawals that show ``status``, newest first (the status is the
        index key: every page but the last is full)."""
        ...

    def payment_context(
        self, corp_id: str, order_id: str, customer_id: str, source_id: str | None, level_source: str
    ) -> PaymentContext:
        """Everything ``order.paid`` reads first, in one round trip (``source_id``: the affiliate
        whose link the order came through; ``level_source``: the order's source of level figures)."""
        ...

    def promoters(
        self, corp_id: str, affiliate_ids: Sequence[str], standing_of: str | None
    ) -> tuple[dict[str, Record | None], Standing | None]:
        """Profiles of ``affiliate_ids`` and the level standing of ``standing_of``, in one round trip."""
        ...

    def order_context(
        self, corp_id: str, order_id: str, roles: Sequence[str], level_source: str
    ) -> OrderContext:
        """Everything a refund or a completion reads first, in one round trip (and the order's
        parts, if it has any, in a second)."""
        ...

    def commit(self, corp_id: str, changes: Sequence[Change]) -> None:
        """Write every change or none. Raises :class:`Stale` when a precondition fails,
        :class:`TooLarge` when they do not fit one transaction, and the ledger's balance
        refusal (``insufficient_balance``) when a posting would overdraw."""
        ...


@dataclass(frozen=True)
class Earnings:
    """What the commission services act on: the affiliates' records, the order aggregate,
    the ledger, and the tenant's time zone (local days of the figures)."""

    affiliates: AffiliateRepository
    orders: OrderRepository
    ledger: Ledger
    time_zone: str


__all__ = [
    "ActivityCounted",
    "ActivitySet",
    "AffiliateJoined",
    "AffiliateRepository",
    "ApplicationReviewed",
    "ApplicationSubmitted",
    "BindingSaved",
    "Change",
    "CommissionDecided",
    "DecisionUnchanged",
    "Earnings",
    "FiguresAdded",
    "HoldReduced",
    "HoldScheduled",
    "InvitedMember",
    "Ledger",
    "LevelFigures",
    "LevelSource",
    "OrderContext",
    "OrderSaved",
    "PaymentContext",
    "PayoutCreated",
    "Payouts",
    "Posted",
    "ProductsBought",
    "ProfileChanged",
    "Record",
    "ShareChanged",
    "ShareCompleted",
    "Stale",
    "StoreApplied",
    "StoreReviewed",
    "TooLarge",
    "WithdrawalMoved",
    "WithdrawalRequested",
]
