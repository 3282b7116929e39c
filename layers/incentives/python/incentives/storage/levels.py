"""Affiliate levels in the single table: the only module that knows their keys and item shapes.

Per tenant: the level settings (``T#<corp>#SETTINGS#AFF_LEVELS``), live member counters in 8
shards and the member-count snapshot (``T#<corp>#AFF_LEVELS``). Per affiliate, one partition
``T#<corp>#AFF_LEVEL#<id>``: the standing (``STATE``: rank, version, running totals of every
metric, owed assessments), one item per local day with that day's figures (``DAY#<date>``) and
one item per level change with its explanation (``CHANGE#<version>``). Per source of figures
(an order, a customer's bindings), what it contributed so far (``T#<corp>#LEVEL_SOURCE#<source>``).

Two queues of the due index (``storage/due.py``) drive the assessment job: affiliates owed an
assessment (``LEVEL_DUE``) and orders whose deal figures come due (``LEVEL_DEAL``); a sparse
``gsi1`` work queue holds tenants whose member counts are due (``LEVEL_COUNT``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from itertools import islice
from typing import Any

from incentives.core.clock import iso_utc, parse_instant
from incentives.core.errors import ConcurrentModification
from incentives.fanout.model import DueQueue
from incentives.levels.assessment import ChangeKind, LevelChange, Trigger
from incentives.levels.metrics import Key, MetricHistory, OrderInputs, decode, encode, minus
from incentives.levels.ports import AppliedSource, Due, MemberCounts, Standing, StoredLevels
from incentives.levels.settings import LevelSettings
from incentives.storage import keys
from incentives.storage.due import TableDueIndex, due_attributes
from incentives.storage.table import (
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
)

SHARDS = 8
MEMBER_COUNT_EVERY = timedelta(hours=2)
"""微客数2小时更新一次: the console's member counts are refreshed every 2 hours."""
COUNT_QUEUE = "LEVEL_COUNT"


def _shard(text: str) -> int:
    return keys.shard(text, SHARDS)


def settings_key(corp_id: str) -> dict[str, str]:
    return {"pk": f"{keys.tenant(corp_id)}#SETTINGS#AFF_LEVELS", "sk": "SETTINGS"}


def _levels_pk(corp_id: str) -> str:
    return f"{keys.tenant(corp_id)}#AFF_LEVELS"


def members_key(corp_id: str, shard: int) -> dict[str, str]:
    return {"pk": _levels_pk(corp_id), "sk": f"MEMBERS#{shard}"}


def counts_key(corp_id: str) -> dict[str, str]:
    return {"pk": _levels_pk(corp_id), "sk": "COUNTS"}


def _affiliate_pk(corp_id: str, affiliate_id: str) -> str:
    return f"{keys.tenant(corp_id)}#AFF_LEVEL#{affiliate_id}"


def state_key(corp_id: str, affiliate_id: str) -> dict[str, str]:
    return {"pk": _affiliate_pk(corp_id, affiliate_id), "sk": "STATE"}


def day_key(corp_id: str, affiliate_id: str, day: date) -> dict[str, str]:
    return {"pk": _affiliate_pk(corp_id, affiliate_id), "sk": f"DAY#{day.isoformat()}"}


def change_key(corp_id: str, affiliate_id: str, version: int) -> dict[str, str]:
    return {"pk": _affiliate_pk(corp_id, affiliate_id), "sk": f"CHANGE#{version:06d}"}


def source_key(corp_id: str, source: str) -> dict[str, str]:
    return {"pk": f"{keys.tenant(corp_id)}#LEVEL_SOURCE#{source}", "sk": "APPLIED"}


def _queue(queue: str, identity: str, at: datetime, corp_id: str, key: str) -> dict[str, str]:
    """A place in the sharded gsi1 member-count queue, due at ``at``."""
    return {
        "gsi1pk": f"{queue}#{_shard(identity)}",
        "gsi1sk": f"{iso_utc(at)}#{corp_id}#{key}",
    }


def _assessment_due(corp_id: str, affiliate_id: str, at: datetime) -> dict[str, str]:
    """The affiliate's place in the assessment queue of the due index, due at ``at``."""
    return due_attributes(DueQueue.LEVEL_ASSESSMENTS, f"{corp_id}#{affiliate_id}", at, corp_id, affiliate_id)


def _member_shard_update(corp_id: str, affiliate_id: str, changes: Mapping[int, int]) -> Update:
    return Update(
        members_key(corp_id, _shard(f"{corp_id}#{affiliate_id}")),
        add={f"r{rank}": amount for rank, amount in changes.items() if amount},
        set={"kind": "level_members"},
    )


def _metric_attribute(prefix: str, key: str) -> str:
    return f"{prefix}{key}"


# --- writes other areas put in their own transactions ----------------------------------------------


def contribution_writes(corp_id: str, delta: Mapping[Key, int], trigger: Trigger) -> list[Write]:
    """Move figures by ``delta``: each day's amounts, each affiliate's running totals, and an owed
    assessment per affiliate concerned (its place in the ``LEVEL_DUE`` queue) with ``trigger``."""
    by_day: dict[tuple[str, date], dict[str, int]] = defaultdict(dict)
    by_affiliate: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (affiliate, day, key), amount in sorted(delta.items()):
        by_day[(affiliate, day)][_metric_attribute("m_", key)] = amount
        by_affiliate[affiliate][_metric_attribute("t_", key)] += amount
    writes: list[Write] = [
        Update(
            day_key(corp_id, affiliate, day),
            add=amounts,
            set={"kind": "affiliate_level_day", "day": day.isoformat()},
        )
        for (affiliate, day), amounts in sorted(by_day.items())
    ]
    for affiliate, totals in sorted(by_affiliate.items()):
        own = trigger.model_copy(
            update={"moved": {key.removeprefix("t_"): n for key, n in totals.items() if n}}
        )
        writes.append(
            Update(
                state_key(corp_id, affiliate),
                add={**{key: n for key, n in totals.items() if n}, "owed": 1},
                set={
                    "kind": "affiliate_level",
                    "corp_id": corp_id,
                    "affiliate_id": affiliate,
                    "trigger": own.model_dump(mode="json"),
                    **_assessment_due(corp_id, affiliate, trigger.at),
                },
            )
        )
    return writes


def _source_item(corp_id: str, target: AppliedSource) -> dict[str, Any]:
    item: dict[str, Any] = {
        **source_key(corp_id, target.source),
        "kind": "level_source",
        "corp_id": corp_id,
        "source": target.source,
        "version": target.version,
        "applied": json.dumps(encode(target.applied), separators=(",", ":")),
    }
    if target.inputs is not None:
        item["inputs"] = {
            "beneficiaries": list(target.inputs.beneficiaries),
            "buyer_affiliate_id": target.inputs.buyer_affiliate_id,
            "deal_at": iso_utc(target.inputs.deal_at) if target.inputs.deal_at else None,
        }
    if target.pending_until is not None:
        item["pending_until"] = iso_utc(target.pending_until)
        item.update(
            due_attributes(
                DueQueue.LEVEL_DEALS,
                f"{corp_id}#{target.source}",
                target.pending_until,
                corp_id,
                target.source,
            )
        )
    return item


def source_writes(
    corp_id: str,
    previous: AppliedSource | None,
    target: AppliedSource,
    trigger: Trigger,
) -> list[Write]:
    """The source's new record (if it is still ``previous``) and the figures it moves."""
    guard: Condition = NotExists() if previous is None else Equals("version", previous.version)
    delta = minus(target.applied, previous.applied if previous else {})
    return [
        Put(_source_item(corp_id, target), (guard,)),
        *contribution_writes(corp_id, delta, trigger),
    ]


def initial_change(affiliate_id: str, joined_at: datetime, stored: StoredLevels | None) -> LevelChange:
    """The default level an affiliate starts at, as their first level change."""
    level = stored.settings.level(1) if stored else None
    return LevelChange(
        kind=ChangeKind.INITIAL,
        version=1,
        from_rank=None,
        from_name=None,
        to_rank=1,
        to_name=level.name if level else None,
        at=joined_at,
        rule_version=stored.version if stored else 0,
        trigger=Trigger(source=f"joined:{affiliate_id}", at=joined_at),
    )


def joining_writes(corp_id: str, affiliate_id: str, change: LevelChange) -> list[Write]:
    """A new affiliate at the default level: their standing, its first change, the member count."""
    return [
        Update(
            state_key(corp_id, affiliate_id),
            set={
                "kind": "affiliate_level",
                "corp_id": corp_id,
                "affiliate_id": affiliate_id,
                "rank": change.to_rank,
                "version": change.version,
                "since": iso_utc(change.at),
            },
        ),
        Put(_change_item(corp_id, affiliate_id, change), (NotExists(),)),
        _member_shard_update(corp_id, affiliate_id, {change.to_rank: 1}),
    ]


def _change_item(corp_id: str, affiliate_id: str, change: LevelChange) -> dict[str, Any]:
    return {
        **change_key(corp_id, affiliate_id, change.version),
        "kind": "level_change",
        "corp_id": corp_id,
        "affiliate_id": affiliate_id,
        "at": iso_utc(change.at),
        "to_rank": change.to_rank,
        "doc": change.model_dump_json(),
    }


# --- reading items ------------------------------------------------------------------------------------


def standing_from_item(corp_id: str, affiliate_id: str, item: Mapping[str, Any] | None) -> Standing:
    if not item:
        return Standing(corp_id, affiliate_id)
    return Standing(
        corp_id=corp_id,
        affiliate_id=affiliate_id,
        rank=int(item.get("rank", 1)),
        version=int(item.get("version", 0)),
        since=parse_instant(item["since"]) if item.get("since") else None,
        owed=int(item.get("owed", 0)),
        assessed=int(item.get("assessed", 0)),
        totals={name[2:]: int(value) for name, value in item.items() if name.startswith("t_")},
        trigger=Trigger.model_validate(item["trigger"]) if item.get("trigger") else None,
    )


def stored_levels_from_item(item: Mapping[str, Any] | None) -> StoredLevels | None:
    if not item:
        return None
    return StoredLevels(
        settings=LevelSettings.model_validate(item["value"]),
        version=int(item["version"]),
        updated_at=parse_instant(item["updated_at"]),
    )


def applied_source_from_item(item: Mapping[str, Any] | None) -> AppliedSource | None:
    if not item:
        return None
    inputs = item.get("inputs")
    return AppliedSource(
        source=item["source"],
        version=int(item["version"]),
        applied=decode(json.loads(item["applied"])),
        inputs=(
            OrderInputs(
                beneficiaries=tuple(inputs.get("beneficiaries", [])),
                buyer_affiliate_id=inputs.get("buyer_affiliate_id"),
                deal_at=parse_instant(inputs["deal_at"]) if inputs.get("deal_at") else None,
            )
            if inputs
            else None
        ),
        pending_until=parse_instant(item["pending_until"]) if item.get("pending_until") else None,
    )


def _version_guard(version: int) -> Condition:
    """The stored version is still ``version`` (a missing attribute counts as 0)."""
    return AtMost("version", 0) if version == 0 else Equals("version", version)


class TableLevelRepository:
    """:class:`incentives.levels.ports.LevelRepository` over the :class:`Table` port."""

    def __init__(self, table: Table) -> None:
        self._table = table

    # settings and member counts

    def settings(self, corp_id: str) -> StoredLevels | None:
        return stored_levels_from_item(self._table.get(settings_key(corp_id)))

    def save_settings(
        self, corp_id: str, settings: LevelSettings, expected_version: int, now: datetime
    ) -> int:
        version = expected_version + 1
        item = {
            **settings_key(corp_id),
            "kind": "level_settings",
            "value": settings.model_dump(mode="json"),
            "version": version,
            "updated_at": iso_utc(now),
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
        try:
            self._table.transact([Put(item, (guard,)), recount])
        except ConditionFailed:
            raise ConcurrentModification("the level settings changed meanwhile; send them again") from None
        return version

    def members(self, corp_id: str) -> dict[int, int]:
        counts: dict[int, int] = defaultdict(int)
        for item in self._table.get_many([members_key(corp_id, shard) for shard in range(SHARDS)]):
            for name, value in (item or {}).items():
                if name.startswith("r") and name[1:].isdigit():
                    counts[int(name[1:])] += int(value)
        return dict(sorted(counts.items()))

    def member_counts(self, corp_id: str) -> MemberCounts:
        item = self._table.get(counts_key(corp_id)) or {}
        return MemberCounts(
            counts={int(rank): int(n) for rank, n in item.get("counts", {}).items()},
            counted_at=parse_instant(item["counted_at"]) if item.get("counted_at") else None,
        )

    def refresh_member_counts(self, corp_id: str, now: datetime) -> MemberCounts:
        counts = self.members(corp_id)
        self._table.transact(
            [
                Put(
                    {
                        **counts_key(corp_id),
                        "kind": "level_counts",
                        "corp_id": corp_id,
                        "counts": {str(rank): n for rank, n in counts.items()},
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
        return standing_from_item(corp_id, affiliate_id, self._table.get(state_key(corp_id, affiliate_id)))

    def figures(self, corp_id: str, standing: Standing, first_day: date) -> MetricHistory:
        days: dict[date, dict[str, int]] = {}
        cursor = None
        pk = _affiliate_pk(corp_id, standing.affiliate_id)
        while True:  # newest first, down to the first day needed
            page = self._table.query(pk, sk_prefix="DAY#", newest_first=True, limit=100, cursor=cursor)
            for item in page.items:
                day = date.fromisoformat(str(item["sk"]).removeprefix("DAY#"))
                if day < first_day:
                    return MetricHistory(standing.totals, days)
                days[day] = {name[2:]: int(value) for name, value in item.items() if name.startswith("m_")}
            cursor = page.cursor
            if cursor is None:
                return MetricHistory(standing.totals, days)

    def commit(
        self, standing: Standing, change: LevelChange | None, now: datetime, *, assessed: bool
    ) -> None:
        corp_id, affiliate_id = standing.corp_id, standing.affiliate_id
        values: dict[str, Any] = {"kind": "affiliate_level", "corp_id": corp_id, "affiliate_id": affiliate_id}
        conditions: list[Condition] = [_version_guard(standing.version)]
        removed: tuple[str, ...] = ()
        if assessed:
            values["assessed"] = standing.owed
            conditions.append(Equals("owed", standing.owed) if standing.owed else AtMost("owed", 0))
            removed = ("gsi4pk", "gsi4sk")
        writes: list[Write] = []
        if change is not None:
            values.update(rank=change.to_rank, version=change.version, since=iso_utc(change.at))
            writes.append(Put(_change_item(corp_id, affiliate_id, change), (NotExists(),)))
            moves = {change.to_rank: 1}
            if standing.version > 0:  # counted since they joined (earlier affiliates were not)
                moves[standing.rank] = moves.get(standing.rank, 0) - 1
            writes.append(_member_shard_update(corp_id, affiliate_id, moves))
        state = Update(
            state_key(corp_id, affiliate_id), set=values, remove=removed, conditions=tuple(conditions)
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

    def rank_at(self, corp_id: str, affiliate_id: str, at: datetime) -> int:
        """The rank in force at ``at``: that of the latest change made at or before it (else 1)."""
        cursor = None
        while True:
            page = self._table.query(
                _affiliate_pk(corp_id, affiliate_id), sk_prefix="CHANGE#", newest_first=True, cursor=cursor
            )
            for item in page.items:
                if parse_instant(item["at"]) <= at:
                    return int(item["to_rank"])
            cursor = page.cursor
            if cursor is None:
                return 1

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
            item = self._table.get(state_key(corp_id, affiliate_id)) or {}
            if item.get("gsi4sk") and str(item["gsi4sk"]) <= _upto(at):
                return False
            owed = int(item.get("owed", 0))
            guard: Condition = Equals("owed", owed) if owed else AtMost("owed", 0)
            schedule = Update(
                state_key(corp_id, affiliate_id),
                add={"owed": 1},
                set={
                    "kind": "affiliate_level",
                    "corp_id": corp_id,
                    "affiliate_id": affiliate_id,
                    **_assessment_due(corp_id, affiliate_id, at),
                },
                conditions=(guard,),
            )
            try:
                self._table.transact([schedule])
            except ConditionFailed:
                continue
            return True
        raise ConcurrentModification(f"the level of {affiliate_id} keeps moving, retry later")

    def due_affiliates(self, now: datetime, limit: int | None = None) -> list[Due]:
        """Affiliates owed an assessment by ``now`` (all tenants; all of them unless ``limit``)."""
        entries = TableDueIndex(self._table).due(DueQueue.LEVEL_ASSESSMENTS, now)
        return [self.due_affiliate(entry) for entry in islice(entries, limit)]

    def due_sources(self, now: datetime, limit: int | None = None) -> list[Due]:
        """Sources whose deal figures are due by ``now`` (all tenants; all of them unless ``limit``)."""
        entries = TableDueIndex(self._table).due(DueQueue.LEVEL_DEALS, now)
        return [self.due_source(entry) for entry in islice(entries, limit)]

    @staticmethod
    def due_affiliate(entry: dict[str, Any]) -> Due:
        return Due(str(entry["corp_id"]), str(entry["affiliate_id"]))

    @staticmethod
    def due_source(entry: dict[str, Any]) -> Due:
        return Due(str(entry["corp_id"]), str(entry["source"]))


def _upto(now: datetime) -> str:
    return iso_utc(now) + "#~"
