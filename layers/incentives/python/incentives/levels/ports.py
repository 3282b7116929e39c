"""What the level services need from storage; the adapter is ``incentives.storage.levels``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from incentives.levels.assessment import LevelChange, Trigger
from incentives.levels.metrics import Contributions, MetricHistory, OrderInputs
from incentives.levels.settings import LevelSettings


@dataclass(frozen=True)
class StoredLevels:
    settings: LevelSettings
    version: int
    """The rule version: 1 for the first settings, +1 at every change."""
    updated_at: datetime


@dataclass(frozen=True)
class Standing:
    """An affiliate's level now, and whether an assessment is owed."""

    corp_id: str
    affiliate_id: str
    rank: int = 1
    version: int = 0
    """Level changes recorded (0: none yet, the default level)."""
    since: datetime | None = None
    owed: int = 0
    """How many times their figures moved; ``assessed`` is the count the last assessment covered."""
    assessed: int = 0
    totals: dict[str, int] = field(default_factory=dict)
    """Running total of every metric key (future-dated deal figures included)."""
    trigger: Trigger | None = None

    @property
    def owes_assessment(self) -> bool:
        return self.owed > self.assessed


@dataclass(frozen=True)
class AppliedSource:
    """What one source (an order, a customer's bindings) has contributed so far."""

    source: str
    version: int
    applied: Contributions
    inputs: OrderInputs | None = None
    pending_until: datetime | None = None
    """When figures still to come are due (an order's deal figures, after its after-sales window)."""


@dataclass(frozen=True)
class MemberCounts:
    """Affiliates per rank as last counted (the seed refreshes them every 2 hours)."""

    counts: dict[int, int]
    counted_at: datetime | None


@dataclass(frozen=True)
class Due:
    corp_id: str
    key: str
    """An affiliate id (assessments owed) or a source (deal figures coming due)."""


class LevelRepository(Protocol):
    def settings(self, corp_id: str) -> StoredLevels | None: ...

    def save_settings(
        self, corp_id: str, settings: LevelSettings, expected_version: int, now: datetime
    ) -> int:
        """Store the settings as the next rule version if the stored one is still
        ``expected_version``; returns the new version, raises ``ConcurrentModification``."""
        ...

    def members(self, corp_id: str) -> dict[int, int]:
        """Affiliates per rank, exactly, now (live counters)."""
        ...

    def member_counts(self, corp_id: str) -> MemberCounts:
        """The last counted snapshot (what the console shows)."""
        ...

    def refresh_member_counts(self, corp_id: str, now: datetime) -> MemberCounts: ...

    def tenants_to_count(self, now: datetime, limit: int) -> Sequence[str]: ...

    def standing(self, corp_id: str, affiliate_id: str) -> Standing: ...

    def figures(self, corp_id: str, standing: Standing, first_day: date) -> MetricHistory:
        """The standing's totals and the daily amounts from ``first_day`` on (later days included)."""
        ...

    def commit(
        self, standing: Standing, change: LevelChange | None, now: datetime, *, assessed: bool
    ) -> None:
        """Record ``change`` (if any) on the standing read; with ``assessed``, the owed assessment
        as done. Raises ``ConcurrentModification`` when the standing moved meanwhile."""
        ...

    def changes(self, corp_id: str, affiliate_id: str) -> list[LevelChange]:
        """Every level change of the affiliate, newest first."""
        ...

    def rank_at(self, corp_id: str, affiliate_id: str, at: datetime) -> int: ...

    def source(self, corp_id: str, source: str) -> AppliedSource | None: ...

    def apply(
        self,
        corp_id: str,
        previous: AppliedSource | None,
        target: AppliedSource,
        trigger: Trigger,
    ) -> None:
        """Write the difference between ``previous`` and ``target`` (figures, running totals, an
        owed assessment per affiliate concerned) with ``target`` as the source's record, if the
        record is still ``previous``; raises ``ConcurrentModification`` otherwise."""
        ...

    def schedule_assessment(self, corp_id: str, affiliate_id: str, at: datetime) -> bool:
        """Owe the affiliate an assessment at ``at`` (kept when one is owed earlier: False)."""
        ...

    def due_affiliates(self, now: datetime, limit: int | None = None) -> Sequence[Due]:
        """Affiliates owed an assessment by ``now`` (every one unless ``limit``)."""
        ...

    def due_sources(self, now: datetime, limit: int | None = None) -> Sequence[Due]:
        """Sources whose deal figures are due by ``now`` (every one unless ``limit``)."""
        ...

    def due_affiliate(self, entry: dict[str, Any]) -> Due:
        """The affiliate a due entry of the assessment queue names."""
        ...

    def due_source(self, entry: dict[str, Any]) -> Due:
        """The source a due entry of the deal queue names."""
        ...
