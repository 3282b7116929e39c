"""What the level services need from storage; the adapter is ``incentives.storage.levels``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from incentives.levels.assessment import LevelChange, Trigger
from incentives.levels.metrics import Contributions, MetricHistory, OrderInputs
from incentives.levels.settings import ChangeMode, LevelSettings


@dataclass(frozen=True)
class Relevel:
    """A rule version whose change re-levels the affiliates (``recalculate`` or ``keep``), with the
    level it deleted (the ranks above it moved down one)."""

    version: int
    mode: ChangeMode
    deleted_rank: int | None = None


@dataclass(frozen=True)
class StoredLevels:
    settings: LevelSettings
    version: int
    """The rule version: 1 for the first settings, +1 at every change."""
    updated_at: datetime
    relevels: tuple[Relevel, ...] = ()
    """The latest rule changes that re-level affiliates, oldest first."""

    def pending(self, rule_version: int) -> tuple[Relevel, ...]:
        """The re-levelling changes an affiliate levelled under ``rule_version`` has not followed."""
        return tuple(change for change in self.relevels if change.version > rule_version)

    def numbering(self, rule_version: int) -> int:
        """Which numbering of the levels rule version ``rule_version`` uses: the version of the
        latest deletion at or before it (0: none remembered). Ranks are counted in it."""
        deletions = [
            c.version for c in self.relevels if c.deleted_rank is not None and c.version <= rule_version
        ]
        return max(deletions, default=0)

    def renumbered(self, numbering: int, rank: int) -> int:
        """Rank ``rank`` of numbering ``numbering`` in the current numbering: one down for each
        later deletion at or below it (the members of a deleted level count at the level below
        until they are re-levelled)."""
        for change in self.relevels:
            if change.deleted_rank is not None and change.version > numbering and rank >= change.deleted_rank:
                rank -= 1
        return max(1, rank)


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
    quota: dict[str, int] = field(default_factory=dict)
    """Quota offsets by metric (配额), from the last rule change kept."""
    rule_version: int = 0
    """The rule version the affiliate was last levelled under."""
    checked_at: datetime | None = None
    """The last assessment (the periodic checks due after it are still to make)."""
    due_at: datetime | None = None
    """The next time-driven check (None: none)."""
    marks: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """Storage's own: the ``(owed, assessed)`` of each item ``owed`` and ``assessed`` are summed
    from, as read (an assessment's commit guards and marks each one it covered)."""

    @property
    def owes_assessment(self) -> bool:
        return self.owed > self.assessed

    def due(self, now: datetime) -> bool:
        return self.owes_assessment or (self.due_at is not None and self.due_at <= now)


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
class RelevelStep:
    """Where a re-levelling job stands: its rule version and the cursor of its next page of
    affiliates (None: the first)."""

    corp_id: str
    version: int
    cursor: str | None = None


@dataclass(frozen=True)
class RelevelPage:
    """One page of a re-levelling job done: the affiliates it marked due, and the job's next step
    (None: every affiliate is marked, the job is done)."""

    marked: list[str]
    next: RelevelStep | None


@dataclass(frozen=True)
class Due:
    corp_id: str
    key: str
    """An affiliate id (assessments owed) or a source (deal figures coming due)."""


class LevelRepository(Protocol):
    def settings(self, corp_id: str) -> StoredLevels | None: ...

    def save_settings(
        self,
        corp_id: str,
        settings: LevelSettings,
        expected_version: int,
        now: datetime,
        relevel: Relevel | None = None,
    ) -> int:
        """Store the settings as the next rule version if the stored one is still
        ``expected_version``; returns the new version, raises ``ConcurrentModification``. With
        ``relevel`` (its version is the new one), the rules in force until then are kept for it
        (:meth:`rules_before`) and the tenant's re-levelling job starts over, due at ``now`` in
        the assessment job's fan-out (:meth:`relevel_page`)."""
        ...

    def rules_before(self, corp_id: str, version: int) -> LevelSettings | None:
        """The rules in force before rule version ``version`` (None: not kept)."""
        ...

    def affiliates(self, corp_id: str, cursor: str | None, limit: int) -> tuple[list[str], str | None]:
        """A page of the tenant's affiliates that have a standing, and the cursor of the next."""
        ...

    def relevel_page(
        self, step: RelevelStep | None, corp_id: str, now: datetime, limit: int
    ) -> RelevelPage | None:
        """Mark the next ``limit`` affiliates of the tenant's re-levelling job owed an assessment
        at ``now`` and move the job on. ``step`` is where the caller found the job (None: where it
        stands now). None when the job is done, or has moved past ``step`` (another page did it, or
        a newer rule change restarted it): nothing is done then. Marking twice is harmless."""
        ...

    def due_relevels(self, now: datetime) -> Sequence[str]:
        """Tenants whose re-levelling job is due by ``now`` (every one)."""
        ...

    def due_relevel(self, entry: dict[str, Any]) -> RelevelStep | None:
        """The job a due entry of the re-levelling queue names (None: where it stands now)."""
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
        self,
        standing: Standing,
        change: LevelChange | None,
        now: datetime,
        *,
        assessed: bool,
        due_at: datetime | None = None,
        quota: dict[str, int] | None = None,
        rule_version: int | None = None,
        numbering: tuple[int, int] = (0, 0),
    ) -> None:
        """Record ``change`` (if any) on the standing read; with ``assessed``, the owed assessment
        as done at ``now`` and the next time-driven check due at ``due_at`` (None: none); ``quota``
        and ``rule_version`` replace the standing's when given. ``numbering`` says which numbering
        of the levels (:meth:`StoredLevels.numbering`) the standing's rank and the change's rank
        are in, for the member counters. Raises ``ConcurrentModification`` when the standing moved
        meanwhile."""
        ...

    def changes(self, corp_id: str, affiliate_id: str) -> list[LevelChange]:
        """Every level change of the affiliate, newest first."""
        ...

    def rank_at(self, corp_id: str, affiliate_id: str, at: datetime) -> tuple[int, int]:
        """The rank in force at ``at`` and the rule version of the change that set it (1, 0: none)."""
        ...

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
