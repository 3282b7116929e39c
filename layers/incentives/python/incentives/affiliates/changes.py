"""The changes the affiliate services decide: each a dataclass that
:meth:`incentives.affiliates.ports.AffiliateRepository.commit` writes, a list of them in one
transaction, all or nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from incentives.levels.assessment import Trigger
from incentives.levels.metrics import Key as FigureKey
from incentives.levels.ports import AppliedSource, StoredLevels

if TYPE_CHECKING:
    from incentives.affiliates.commission import Decision as CommissionDecision
    from incentives.ledger.model import Account, Entry
    from incentives.orders.aggregate import OrderState
    from incentives.payouts.model import Payout
    from incentives.webhook.models import OrderPaid

Record = dict[str, Any]
"""A stored record's attributes by name (no keys: those are the adapter's)."""


class Stale(Exception):
    """A change's precondition no longer held (someone wrote first); nothing was committed."""

    def __init__(self, changes: Sequence[object]) -> None:
        super().__init__(f"{len(changes)} change(s) no longer apply")
        self.changes = list(changes)


class TooLarge(Exception):
    """The changes need more writes than one transaction holds; nothing was committed."""


# --- changes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityCounted:
    """A source of activity (an order, a recharge) counted once in the customer's activity:
    :class:`Stale` names this change when the source was counted before."""

    customer_id: str
    source: str
    at: datetime
    add: Mapping[str, int]


@dataclass(frozen=True)
class ActivitySet:
    """What the customer's profile says (official account, identities, tags)."""

    customer_id: str
    values: Mapping[str, Any]


@dataclass(frozen=True)
class ProductsBought:
    customer_id: str
    order_id: str
    product_ids: tuple[str, ...]


@dataclass(frozen=True)
class FiguresAdded:
    """Add to an affiliate's running figures and, with ``day``, to that local day's."""

    affiliate_id: str
    at: datetime
    counters: Mapping[str, int] = field(default_factory=dict)
    day: str | None = None
    day_counters: Mapping[str, int] = field(default_factory=dict)
    spread_by: str = ""
    """What picks the figures' shard the write lands on (the order of a commission, so concurrent
    orders of one affiliate add to different items); empty: the instant ``at``."""


@dataclass(frozen=True)
class LevelFigures:
    """Level figures moved by ``delta`` (each affiliate concerned owes an assessment)."""

    delta: Mapping[FigureKey, int]
    trigger: Trigger


@dataclass(frozen=True)
class LevelSource:
    """A source's level figures brought from ``previous`` to ``target`` (if still ``previous``)."""

    previous: AppliedSource | None
    target: AppliedSource
    trigger: Trigger


@dataclass(frozen=True)
class InvitedMember:
    """A member who registered through ``inviter``'s invitation; :class:`Stale` when counted before."""

    inviter: str
    customer_id: str
    registered_at: datetime


@dataclass(frozen=True)
class ApplicationSubmitted:
    """A new application (or one sent again after a rejection, if still the one read)."""

    record: Record
    replaces_submitted_at: str | None


@dataclass(frozen=True)
class ApplicationReviewed:
    customer_id: str
    changes: Mapping[str, Any]
    """Applied only while the application is still pending review."""


@dataclass(frozen=True)
class AffiliateJoined:
    """A new affiliate (once) at the default level of the tenant's ``levels``."""

    record: Record
    levels: StoredLevels | None


@dataclass(frozen=True)
class StoreApplied:
    record: Record


@dataclass(frozen=True)
class StoreReviewed:
    affiliate_id: str
    store_id: str
    changes: Mapping[str, Any]
    """Applied only while the store application is still pending review."""


@dataclass(frozen=True)
class ProfileChanged:
    """Profile attributes set and removed, if the profile is still at ``expected_version``."""

    affiliate_id: str
    expected_version: int
    values: Mapping[str, Any]
    removed: tuple[str, ...] = ()


@dataclass(frozen=True)
class BindingSaved:
    """The customer's binding as it is now, if it is still at ``expected_version`` (0: none yet)."""

    record: Record
    expected_version: int


@dataclass(frozen=True)
class CommissionDecided:
    """An order's commission decision (once, or in place of ``replaces_decided_at``), its shares,
    each one's pending credit with its hold, and the figures they move."""

    order: OrderPaid
    decision: CommissionDecision
    decided_at: datetime
    day: str
    credits: tuple[Entry, ...]
    buyer_affiliate_id: str | None
    level_rank: int | None
    level_rate_bp: int | None
    replaces_decided_at: str | None = None


@dataclass(frozen=True)
class ShareChanged:
    """A commission share's attributes set, if the share is still at ``expected_version``."""

    order_id: str
    role: str
    expected_version: int
    values: Mapping[str, Any]
    paid_at: str = ""
    """The share's ``paid_at``: the day of the tenant's commission totals the change moves."""
    net_change_fen: int = 0
    """How much the share's net commission moves (minus what a refund takes back)."""


@dataclass(frozen=True)
class DecisionUnchanged:
    """The order's commission decision is still the one read (made at ``decided_at``): a write
    planned from that decision must not land after a late click replaced it."""

    order_id: str
    decided_at: str


@dataclass(frozen=True)
class ShareCompleted:
    """The share's order completed: when its hold settles (the share must exist)."""

    order_id: str
    role: str
    completed_at: datetime
    hold_until: datetime


@dataclass(frozen=True)
class Posted:
    """Ledger entries posted in the same transaction; :class:`Stale` names this change when
    they were posted before."""

    entries: tuple[Entry, ...]
    at: datetime


@dataclass(frozen=True)
class HoldReduced:
    """A reversal taken out of its credit's hold (refused if more than remains)."""

    reversal: Entry


@dataclass(frozen=True)
class HoldScheduled:
    """A waiting hold given its date (refused if the hold is gone)."""

    account: Account
    credit_id: str
    hold_until: datetime


@dataclass(frozen=True)
class OrderSaved:
    """The order aggregate's new state, if the stored one is still ``expected_version``."""

    state: OrderState
    expected_version: int


@dataclass(frozen=True)
class WithdrawalRequested:
    record: Record


@dataclass(frozen=True)
class WithdrawalMoved:
    """A withdrawal's new status (and attributes), if it is still in ``from_status``."""

    withdrawal_id: str
    from_status: str
    values: Mapping[str, Any]


@dataclass(frozen=True)
class PayoutCreated:
    payout: Payout


Change = (
    ActivityCounted
    | ActivitySet
    | ProductsBought
    | FiguresAdded
    | LevelFigures
    | LevelSource
    | InvitedMember
    | ApplicationSubmitted
    | ApplicationReviewed
    | AffiliateJoined
    | StoreApplied
    | StoreReviewed
    | ProfileChanged
    | BindingSaved
    | CommissionDecided
    | ShareChanged
    | ShareCompleted
    | DecisionUnchanged
    | Posted
    | HoldReduced
    | HoldScheduled
    | OrderSaved
    | WithdrawalRequested
    | WithdrawalMoved
    | PayoutCreated
)
