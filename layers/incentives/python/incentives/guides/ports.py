"""What the guide incentive services need from storage; the adapter is ``incentives.storage.guides``.

Rules carry their versions as documents (``version``, ``amount_fen``, ``monthly_limit_fen``,
``effective_from``: what the console shows); occurrences, rewards and guides are attribute
documents. A grant is decided here and committed by the repository in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from incentives.ledger.model import Entry
from incentives.payouts.model import Payout

Record = dict[str, Any]


@dataclass(frozen=True)
class StoredRule:
    rule_id: str
    name: str
    behavior: str
    template: bool
    enabled: bool
    versions: tuple[Record, ...]


@dataclass(frozen=True)
class Counters:
    """What a guide was granted under one rule version this month, and what waits to be paid online."""

    used_fen: int = 0
    carried_fen: int = 0


@dataclass(frozen=True)
class Grant:
    """One trigger's effects, all or nothing: its occurrence, its count against the monthly limit
    (if the usage is still ``used_fen``), and when ``amount_fen`` > 0 its reward, ledger entries and
    payout, or the amount carried into the next online payment."""

    corp_id: str
    guide_id: str
    rule_id: str
    month: str
    version: int
    at: datetime
    reward_id: str
    occurrence: Record
    used_fen: int
    amount_fen: int
    reward: Record | None = None
    entries: Sequence[Entry] = ()
    payout: Payout | None = None
    carried_fen: int = 0
    """Added to the guide's carry (a reward too small to pay alone online)."""
    carried_in_fen: int = 0
    """Taken from the guide's carry into this payout (if it still holds that much)."""


@dataclass(frozen=True)
class GrantRead:
    """What a grant reads before deciding, in one batched read: the rule, the guide, the tenant's
    settings, whether the trigger was counted or rewarded before, and the counters."""

    rule: StoredRule | None
    guide: Record | None
    settings: Record | None
    reward: Record | None
    occurrence_recorded: bool
    carried_fen: int
    used_fen: Mapping[int, int]
    """The month's usage of the rule versions read with it, by version (maybe none)."""

    def counters(self, version: int) -> Counters | None:
        """The counters under ``version``, or None when its usage was not read."""
        if version not in self.used_fen:
            return None
        return Counters(self.used_fen[version], self.carried_fen)


class GrantOutcome(StrEnum):
    APPLIED = "applied"
    ALREADY_APPLIED = "already_applied"
    """The occurrence or the reward exists: a redelivery or a racing duplicate."""
    COUNTERS_MOVED = "counters_moved"
    """The monthly usage or the carry changed since read: read them again."""


class PayoutLookup(Protocol):
    def get(self, corp_id: str, payout_id: str) -> Payout | None: ...

    def get_many(self, keys: Sequence[tuple[str, str]]) -> list[Payout]:
        """The payouts of ``(corp_id, payout_id)`` pairs that exist, read together."""
        ...


@dataclass(frozen=True)
class RewardQuery:
    """A page of rewards: created at or after ``since`` and at or before ``until`` (RFC 3339 as
    stored, the index's key condition), those ``keep`` accepts, continuing ``cursor``."""

    limit: int
    cursor: str | None = None
    since: str | None = None
    until: str | None = None
    keep: Callable[[Record], bool] | None = None


@dataclass(frozen=True)
class RewardPage:
    """Reward documents of one page, and the cursor of the next (``None``: the last page)."""

    rewards: list[Record]
    cursor: str | None


class GuideRepository(Protocol):
    def settings(self, corp_id: str) -> Record | None:
        """The incentive settings document, None before the first save."""
        ...

    def save_settings(self, corp_id: str, value: Record, updated_at: datetime) -> None: ...

    def rule(self, corp_id: str, rule_id: str) -> StoredRule | None: ...

    def rules(self, corp_id: str) -> list[StoredRule]: ...

    def add_rule(self, corp_id: str, rule: StoredRule) -> bool:
        """Store a new rule; False (nothing written) when the rule exists already."""
        ...

    def save_rule(self, corp_id: str, rule: StoredRule) -> None: ...

    def set_rule_enabled(self, corp_id: str, rule_id: str, enabled: bool) -> None: ...

    def occurrences(self, corp_id: str, rule_id: str, month: str) -> list[Record]: ...

    def guides(self, corp_id: str) -> dict[str, Record]: ...

    def reward(self, corp_id: str, reward_id: str) -> Record | None: ...

    def grant_read(
        self, corp_id: str, guide_id: str, rule_id: str, month: str, at: datetime, reward_id: str
    ) -> GrantRead:
        """Everything a grant reads, in one round trip. The usage read with it is that of the
        rule version this container last saw newest; the grant reads the counters again when
        another version is in force at ``at``."""
        ...

    def counters(self, corp_id: str, guide_id: str, rule_id: str, month: str, version: int) -> Counters:
        """Both counters in one consistent read."""
        ...

    def commit_grant(self, grant: Grant) -> GrantOutcome: ...

    def rewards_page(self, corp_id: str, guide_id: str | None, query: RewardQuery) -> RewardPage:
        """A page of reward documents newest first (the tenant's, or one guide's), created within
        ``query``'s bounds (a key condition), only those ``query.keep`` accepts."""
        ...

    def reward_totals(self, corp_id: str, first_day: str | None, last_day: str | None) -> Record:
        """The tenant's maintained totals of rewards created on those UTC days (inclusive):
        ``records``, ``carried_fen``, ``paid_fen``, ``paid_by_rule_fen``."""
        ...

    def outlet_totals(
        self, corp_id: str, outlet_ids: Sequence[str], first_day: str | None, last_day: str | None
    ) -> Record:
        """The same totals of the rewards of those outlets, from their counters per UTC day."""
        ...

    def guide_totals(
        self,
        corp_id: str,
        guide_id: str,
        first_day: str | None,
        last_day: str | None,
        outlet_kept: Callable[[str], bool],
    ) -> Record:
        """The same totals of a guide's rewards at the outlets ``outlet_kept`` accepts."""
        ...

    def month_earnings(self, corp_id: str, guide_id: str) -> dict[str, int]:
        """A guide's paid (or recorded) amount per month of creation (merchant time)."""
        ...

    def outlet_paths(self, corp_id: str) -> dict[str, list[str]]:
        """Each outlet of the tenant's department tree, with its path from the root."""
        ...

    def carried(self, corp_id: str, guide_id: str) -> int: ...
