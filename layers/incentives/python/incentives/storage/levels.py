"""Affiliate levels in the single table: :class:`TableLevelRepository`. With
``storage.level_items`` (their keys, item shapes and the writes other areas join), the only
modules that know how levels are stored."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from itertools import islice
from typing import Any

from incentives.core.clock import iso_utc, parse_instant
from incentives.core.errors import ConcurrentModification
from incentives.fanout.model import DueQueue
from incentives.levels.assessment import LevelChange, Trigger
from incentives.levels.metrics import MetricHistory
from incentives.levels.ports import (
    AppliedSource,
    Due,
    MemberCounts,
    Relevel,
    RelevelPage,
    RelevelStep,
    Standing,
    StoredLevels,
)
from incentives.levels.settings import LevelSettings
from incentives.storage import keys
from incentives.storage.due import TableDueIndex
from incentives.storage.level_items import (
    COUNT_QUEUE,
    KEPT_RELEVELS,
    MEMBER_COUNT_EVERY,
    SHARDS,
    _affiliate_pk,
    _assessment_due,
    _change_item,
    _listed,
    _member_shard_update,
    _queue,
    _version_guard,
    applied_source_from_item,
    counted,
    counts_key,
    members_key,
    relevel_key,
    settings_key,
    source_key,
    source_writes,
    standings_list,
    state_key,
    stored_levels_from_item,
)
from incentives.storage.level_relevels import (
    due_relevel,
    relevel_entry,
    relevel_progress,
    relevel_step_from_item,
    relevel_writes,
    rules_before_key,
    scheduling,
)
from incentives.storage.level_standings import covered_shards, standing_from_items, standing_keys
from incentives.storage.sharded import merged_page
from incentives.storage.table import (
    MAX_TRANSACTION_ITEMS,
    AtMost,
    Condition,
    ConditionFailed,
    Equals,
    NotExists,
    Put,
    Table,
    Update,
    Write,
    due_items,
    query_all,
    query_iter,
)


class TableLevelRepository:
    """:class:`incentives.levels.ports.LevelRepository` over the :class:`Table` port."""

    def __init__(self, table: Table) -> None:
        self._table = table

    # settings and member counts

    def settings(self, corp_id: str) -> StoredLevels | None:
        return stored_levels_from_item(self._table.get(settings_key(corp_id)))

    def save_settings(
        self,
        corp_id: str,
        settings: LevelSettings,
        expected_version: int,
        now: datetime,
        relevel: Relevel | None = None,
    ) -> int:
        version = expected_version + 1
        previous = self.settings(corp_id) if expected_version else None
        relevels = [*(previous.relevels if previous else ()), *([relevel] if relevel else [])]
        item = {
            **settings_key(corp_id),
            "kind": "level_settings",
            "value": settings.model_dump(mode="json"),
            "version": version,
            "updated_at": iso_utc(now),
            "relevels": [
                {"version": r.version, "mode": r.mode.value, "deleted_rank": r.deleted_rank}
                for r in relevels[-KEPT_RELEVELS:]
            ],
        }
        guard: Condition = NotExists() if expected_version == 0 else Equals("version", expected_version)
        recount = Update(  # the new levels get counted at the next run
            counts_key(corp_id),
            set={
                "kind": "level_counts",
                "corp_id": corp_id,
                **_queue(COUNT_QUEUE, corp_id, now, corp_id, ""),
            },
        )
        writes: list[Write] = [Put(item, (guard,)), recount]
        if relevel is not None:
            writes += relevel_writes(corp_id, version, previous.settings if previous else None, now)
        try:
            self._table.transact(writes)
        except ConditionFailed:
            raise ConcurrentModification("the level settings changed meanwhile; send them again") from None
        return version

    def rules_before(self, corp_id: str, version: int) -> LevelSettings | None:
        item = self._table.get(rules_before_key(corp_id, version))
        return LevelSettings.model_validate(item["value"]) if item else None

    def affiliates(self, corp_id: str, cursor: str | None, limit: int) -> tuple[list[str], str | None]:
        partitions = keys.listing_partitions(standings_list(corp_id))
        page = merged_page(self._table, partitions, index="gsi2", limit=limit, cursor=cursor)
        return [str(item["affiliate_id"]) for item in page.items], page.cursor

    def relevel_page(
        self, step: RelevelStep | None, corp_id: str, now: datetime, limit: int
    ) -> RelevelPage | None:
        item = self._table.get(relevel_key(corp_id)) or {}
        if "gsi4pk" not in item:
            return None  # done (or never started)
        at = relevel_step_from_item(corp_id, item)
        if step is not None and step != at:
            return None  # another page moved the job on, or a newer change restarted it
        marked, cursor = self.affiliates(corp_id, at.cursor, limit)
        self._mark_due(corp_id, marked, now)  # kept where owed by ``now`` already
        try:
            self._table.transact([relevel_progress(at, cursor)])
        except ConditionFailed:
            return None  # moved on meanwhile: the marks made are harmless
        return RelevelPage(marked, RelevelStep(corp_id, at.version, cursor) if cursor else None)

    due_relevel = staticmethod(due_relevel)

    def members(self, corp_id: str) -> dict[int, int]:
        return self._members(corp_id, self.settings(corp_id))

    def _members(self, corp_id: str, stored: StoredLevels | None) -> dict[int, int]:
        counts: dict[int, int] = defaultdict(int)  # renumbered by the settings the caller read
        for item in self._table.get_many([members_key(corp_id, shard) for shard in range(SHARDS)]):
            for (numbering, rank), value in counted(item).items():
                counts[stored.renumbered(numbering, rank) if stored else rank] += value
        return dict(sorted(counts.items()))

    def member_counts(self, corp_id: str) -> MemberCounts:
        item = self._table.get(counts_key(corp_id)) or {}
        stored = self.settings(corp_id)
        numbering = int(item.get("numbering", 0))
        counts: dict[int, int] = defaultdict(int)
        for rank, n in item.get("counts", {}).items():  # counted before a later deletion: renumbered
            counts[stored.renumbered(numbering, int(rank)) if stored else int(rank)] += int(n)
        return MemberCounts(
            counts=dict(counts),
            counted_at=parse_instant(item["counted_at"]) if item.get("counted_at") else None,
        )

    def refresh_member_counts(self, corp_id: str, now: datetime) -> MemberCounts:
        stored = self.settings(corp_id)
        counts = self._members(corp_id, stored)
        self._table.transact(
            [
                Put(
                    {
                        **counts_key(corp_id),
                        "kind": "level_counts",
                        "corp_id": corp_id,
                        "counts": {str(rank): n for rank, n in counts.items()},
                        "numbering": stored.numbering(stored.version) if stored else 0,
                        "counted_at": iso_utc(now),
                        **_queue(COUNT_QUEUE, corp_id, now + MEMBER_COUNT_EVERY, corp_id, ""),
                    }
                )
            ]
        )
        return MemberCounts(counts, now)

    def tenants_to_count(self, now: datetime, limit: int) -> Sequence[str]:
        return [
            str(item["corp_id"]) for item in due_items(self._table, COUNT_QUEUE, SHARDS, _upto(now), limit)
        ]

    # standings, figures, changes

    def standing(self, corp_id: str, affiliate_id: str) -> Standing:
        return standing_from_items(
            corp_id, affiliate_id, self._table.get_many(standing_keys(corp_id, affiliate_id))
        )

    def figures(self, corp_id: str, standing: Standing, first_day: date) -> MetricHistory:
        days: dict[date, dict[str, int]] = {}
        pk = _affiliate_pk(corp_id, standing.affiliate_id)
        # newest first, down to the first day needed; a day's shards (and its unsharded item) together
        for item in query_iter(self._table, pk, sk_prefix="DAY#", newest_first=True, page_size=100):
            day = date.fromisoformat(str(item["sk"]).split("#")[1])
            if day < first_day:
                break
            figures = days.setdefault(day, {})
            for name, value in item.items():
                if name.startswith("m_"):
                    figures[name[2:]] = figures.get(name[2:], 0) + int(value)
        return MetricHistory(standing.totals, days)

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
        corp_id, affiliate_id = standing.corp_id, standing.affiliate_id
        values: dict[str, Any] = {
            "kind": "affiliate_level",
            "corp_id": corp_id,
            "affiliate_id": affiliate_id,
            **_listed(corp_id, affiliate_id),
        }
        conditions: list[Condition] = [_version_guard(standing.version)]
        removed: list[str] = []
        if quota is not None:
            values["quota"] = dict(quota)
        if rule_version is not None:
            values["rule_version"] = rule_version
        writes: list[Write] = []
        if assessed:
            owed = standing.marks.get("STATE", (0, 0))[0] if standing.marks else standing.owed
            values["assessed"] = owed
            values["checked_at"] = iso_utc(now)
            conditions.append(Equals("owed", owed) if owed else AtMost("owed", 0))
            if due_at is None:
                removed += ["gsi4pk", "gsi4sk", "due_at"]
            writes += covered_shards(standing)
        if due_at is not None:
            values["due_at"] = iso_utc(due_at)
            values.update(_assessment_due(corp_id, affiliate_id, due_at))
        if change is not None:
            values.update(rank=change.to_rank, version=change.version)
            if change.to_rank != standing.rank or standing.since is None:  # a quota keeps the level
                values["since"] = iso_utc(change.at)
            writes.append(Put(_change_item(corp_id, affiliate_id, change), (NotExists(),)))
            counted_before, counted_after = (numbering[0], standing.rank), (numbering[1], change.to_rank)
            moves = {counted_after: 1}
            if standing.version > 0:  # counted since they joined (earlier affiliates were not)
                moves[counted_before] = moves.get(counted_before, 0) - 1
            writes.append(_member_shard_update(corp_id, affiliate_id, moves))
        state = Update(
            state_key(corp_id, affiliate_id), set=values, remove=tuple(removed), conditions=tuple(conditions)
        )
        try:
            self._table.transact([state, *writes])
        except ConditionFailed:
            raise ConcurrentModification(f"the level of {affiliate_id} moved meanwhile") from None

    def changes(self, corp_id: str, affiliate_id: str) -> list[LevelChange]:
        items = query_all(
            self._table, _affiliate_pk(corp_id, affiliate_id), sk_prefix="CHANGE#", newest_first=True
        )
        return [LevelChange.model_validate_json(item["doc"]) for item in items]

    def rank_at(self, corp_id: str, affiliate_id: str, at: datetime) -> tuple[int, int]:
        """The rank in force at ``at``: that of the latest change made at or before it (else 1)."""
        pk = _affiliate_pk(corp_id, affiliate_id)
        for item in query_iter(self._table, pk, sk_prefix="CHANGE#", newest_first=True, page_size=100):
            if parse_instant(item["at"]) <= at:
                return int(item["to_rank"]), LevelChange.model_validate_json(item["doc"]).rule_version
        return 1, 0

    # sources of figures

    def source(self, corp_id: str, source: str) -> AppliedSource | None:
        return applied_source_from_item(self._table.get(source_key(corp_id, source)))

    def apply(
        self,
        corp_id: str,
        previous: AppliedSource | None,
        target: AppliedSource,
        trigger: Trigger,
    ) -> None:
        try:
            self._table.transact(source_writes(corp_id, previous, target, trigger))
        except ConditionFailed:
            raise ConcurrentModification(f"the figures of {target.source} moved meanwhile") from None

    # work queues

    def schedule_assessment(self, corp_id: str, affiliate_id: str, at: datetime) -> bool:
        """Owe the affiliate an assessment at ``at`` (a cycle's end, a single check, a figure
        leaving its window …); the assessment job does it once ``at`` has come. An assessment
        already owed earlier is kept (False); any assessment clears it, so the rule that assesses
        schedules the next check it needs."""
        for _ in range(5):
            schedule = scheduling(
                corp_id, affiliate_id, self._table.get(state_key(corp_id, affiliate_id)), at
            )
            if schedule is None:
                return False
            try:
                self._table.transact([schedule])
            except ConditionFailed:
                continue
            return True
        raise ConcurrentModification(f"the level of {affiliate_id} keeps moving, retry later")

    def _mark_due(self, corp_id: str, affiliates: list[str], at: datetime) -> None:
        """:meth:`schedule_assessment` for a page: one read of their standings, a transaction per
        100 marks; a transaction that meets a standing moved meanwhile is done one by one."""
        items = self._table.get_many([state_key(corp_id, affiliate) for affiliate in affiliates])
        marks = [
            (affiliate, mark)
            for affiliate, item in zip(affiliates, items, strict=True)
            if (mark := scheduling(corp_id, affiliate, item, at)) is not None
        ]
        for start in range(0, len(marks), MAX_TRANSACTION_ITEMS):
            chunk = marks[start : start + MAX_TRANSACTION_ITEMS]
            try:
                self._table.transact([mark for _, mark in chunk])
            except ConditionFailed:
                for affiliate, _ in chunk:
                    self.schedule_assessment(corp_id, affiliate, at)

    def due_affiliates(self, now: datetime, limit: int | None = None) -> list[Due]:
        """Affiliates owed an assessment by ``now`` (all tenants; all of them unless ``limit``)."""
        entries = TableDueIndex(self._table).due(DueQueue.LEVEL_ASSESSMENTS, now)
        found: dict[Due, None] = {}  # an affiliate is due once however many of their items are
        for entry in entries:
            found.setdefault(self.due_affiliate(entry))
            if len(found) == limit:
                break
        return list(found)

    def due_sources(self, now: datetime, limit: int | None = None) -> list[Due]:
        """Sources whose deal figures are due by ``now`` (all tenants; all of them unless ``limit``)."""
        entries = TableDueIndex(self._table).due(DueQueue.LEVEL_DEALS, now)
        return [self.due_source(entry) for entry in islice(entries, limit)]

    def due_relevels(self, now: datetime) -> list[str]:
        """Tenants whose re-levelling job is due by ``now`` (every one)."""
        return [
            str(entry["corp_id"]) for entry in TableDueIndex(self._table).due(DueQueue.LEVEL_RELEVELS, now)
        ]

    @staticmethod
    def assessment_entry(corp_id: str, affiliate_id: str) -> dict[str, Any]:
        """A due entry of the assessment queue for the affiliate, as the index would project it."""
        return {"corp_id": corp_id, "affiliate_id": affiliate_id}

    relevel_entry = staticmethod(relevel_entry)

    @staticmethod
    def due_affiliate(entry: dict[str, Any]) -> Due:
        return Due(str(entry["corp_id"]), str(entry["affiliate_id"]))

    @staticmethod
    def due_source(entry: dict[str, Any]) -> Due:
        return Due(str(entry["corp_id"]), str(entry["source"]))


def _upto(now: datetime) -> str:
    return iso_utc(now) + "#~"
