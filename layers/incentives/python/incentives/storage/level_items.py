"""Affiliate levels' keys and item shapes in the single table (with ``storage.levels``, the repository).

Per tenant: the level settings (``T#<corp>#SETTINGS#AFF_LEVELS``), live member counters in 8
shards and the member-count snapshot (``T#<corp>#AFF_LEVELS``). Per affiliate, one partition
``T#<corp>#AFF_LEVEL#<id>``: the standing (``STATE``: rank, version, quota, the next time-driven
check), the figures' running totals written to 8 shards (``STATE#<shard>``: totals of every metric,
owed assessments and the last trigger, each with its own place in the due queue while owed), each
local day's figures written to 8 shards (``DAY#<date>#<shard>``), the shard of a figure move a pure
function of its source, so one affiliate's orders do not all write one item; a standing is read as
``STATE`` plus its shards (one BatchGetItem), a day as the sum of its shards. One item per level
change with its explanation (``CHANGE#<version>``). Per source of figures
(an order, a customer's bindings), what it contributed so far (``T#<corp>#LEVEL_SOURCE#<source>``).

Three queues of the due index (``storage/due.py``) drive the assessment job: affiliates owed an
assessment or due a time-driven check (``LEVEL_DUE``, at the time it is due), orders whose deal
figures come due (``LEVEL_DEAL``) and each tenant's re-levelling job after a rule change or a
deleted level (``LEVEL_RELEVEL``: ``T#<corp>#AFF_LEVELS`` / ``RELEVEL``, its rule version and the
cursor of its next page of affiliates); the rules in force before each such change are kept
(``RULES_BEFORE#<version>``). A sparse ``gsi1`` work queue holds tenants whose member counts are
due (``LEVEL_COUNT``). Every standing is listed per tenant on ``gsi2``
(``T#<corp>#AFF_LEVEL_LIST#S<n>``, 16 write shards merged on read), for re-levels and previews.

Member counters are kept per numbering of the levels: ``r<rank>`` before any deletion,
``n<version>r<rank>`` in the numbering that the deletion of rule version ``<version>`` began; a
reader renumbers them through the later deletions (``StoredLevels.renumbered``).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from incentives.core.clock import iso_utc, parse_instant
from incentives.fanout.model import DueQueue
from incentives.levels.assessment import ChangeKind, LevelChange, Trigger
from incentives.levels.metrics import Key, OrderInputs, decode, encode, minus
from incentives.levels.ports import AppliedSource, Relevel, Standing, StoredLevels
from incentives.levels.settings import ChangeMode, LevelSettings
from incentives.storage import keys
from incentives.storage.due import due_attributes
from incentives.storage.table import (
    AtMost,
    Condition,
    Equals,
    NotExists,
    Put,
    Update,
    Write,
)

SHARDS = 8
MEMBER_COUNT_EVERY = timedelta(hours=2)
"""微客数2小时更新一次: the console's member counts are refreshed every 2 hours."""
COUNT_QUEUE = "LEVEL_COUNT"
KEPT_RELEVELS = 20
"""Re-levelling rule changes remembered on the settings item (an affiliate further behind is
re-levelled under the latest mode)."""


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


def relevel_key(corp_id: str) -> dict[str, str]:
    return {"pk": _levels_pk(corp_id), "sk": "RELEVEL"}


def standings_list(corp_id: str) -> str:
    """The tenant's list of standings (gsi2), write-sharded: every order's level figures rewrite
    a standing, so one index key would take every order of the tenant."""
    return f"{keys.tenant(corp_id)}#AFF_LEVEL_LIST"


def _listed(corp_id: str, affiliate_id: str) -> dict[str, str]:
    """The standing's place in the tenant's list of standings (gsi2, its shard)."""
    return {"gsi2pk": keys.listing_partition(standings_list(corp_id), affiliate_id), "gsi2sk": affiliate_id}


def _affiliate_pk(corp_id: str, affiliate_id: str) -> str:
    return f"{keys.tenant(corp_id)}#AFF_LEVEL#{affiliate_id}"


def state_key(corp_id: str, affiliate_id: str) -> dict[str, str]:
    return {"pk": _affiliate_pk(corp_id, affiliate_id), "sk": "STATE"}


STANDING_SHARDS = 8
"""Items an affiliate's figure moves are spread over (``STATE#<shard>``, ``DAY#<date>#<shard>``)."""


def figure_shard(source: str) -> int:
    """The shard a source's figure moves land on (stable: every move of one order on one shard)."""
    return keys.shard(source, STANDING_SHARDS)


def totals_key(corp_id: str, affiliate_id: str, shard: int) -> dict[str, str]:
    return {"pk": _affiliate_pk(corp_id, affiliate_id), "sk": f"STATE#{shard}"}


def day_key(corp_id: str, affiliate_id: str, day: date, shard: int) -> dict[str, str]:
    return {"pk": _affiliate_pk(corp_id, affiliate_id), "sk": f"DAY#{day.isoformat()}#{shard}"}


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


def member_attribute(numbering: int, rank: int) -> str:
    """The counter of rank ``rank`` in numbering ``numbering`` (0: before any deletion)."""
    return f"n{numbering}r{rank}" if numbering else f"r{rank}"


_COUNTER = re.compile(r"(?:n(\d+))?r(\d+)")


def counted(item: Mapping[str, Any] | None) -> dict[tuple[int, int], int]:
    """A member counter shard's counts by (numbering, rank)."""
    counts: dict[tuple[int, int], int] = {}
    for name, value in (item or {}).items():
        found = _COUNTER.fullmatch(name)
        if found:
            counts[(int(found.group(1) or 0), int(found.group(2)))] = int(value)
    return counts


def _member_shard_update(corp_id: str, affiliate_id: str, changes: Mapping[tuple[int, int], int]) -> Update:
    """Move the member counters by ``changes``: (numbering, rank) → amount."""
    return Update(
        members_key(corp_id, _shard(f"{corp_id}#{affiliate_id}")),
        add={member_attribute(*key): amount for key, amount in changes.items() if amount},
        set={"kind": "level_members"},
    )


def _metric_attribute(prefix: str, key: str) -> str:
    return f"{prefix}{key}"


# --- writes other areas put in their own transactions ----------------------------------------------


def contribution_writes(corp_id: str, delta: Mapping[Key, int], trigger: Trigger) -> list[Write]:
    """Move figures by ``delta``: each day's amounts, each affiliate's running totals, and an owed
    assessment per affiliate concerned (its place in the ``LEVEL_DUE`` queue) with ``trigger``, all
    on the shard of the trigger's source."""
    shard = figure_shard(trigger.source)
    by_day: dict[tuple[str, date], dict[str, int]] = defaultdict(dict)
    by_affiliate: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (affiliate, day, key), amount in sorted(delta.items()):
        by_day[(affiliate, day)][_metric_attribute("m_", key)] = amount
        by_affiliate[affiliate][_metric_attribute("t_", key)] += amount
    writes: list[Write] = [
        Update(
            day_key(corp_id, affiliate, day, shard),
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
                totals_key(corp_id, affiliate, shard),
                add={**{key: n for key, n in totals.items() if n}, "owed": 1},
                set={
                    "kind": "affiliate_level_figures",
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
                "rule_version": change.rule_version,
                **_listed(corp_id, affiliate_id),
            },
        ),
        Put(_change_item(corp_id, affiliate_id, change), (NotExists(),)),
        _member_shard_update(corp_id, affiliate_id, {(0, change.to_rank): 1}),  # rank 1: every numbering
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
        quota={str(key): int(value) for key, value in (item.get("quota") or {}).items()},
        rule_version=int(item.get("rule_version", 0)),
        checked_at=parse_instant(item["checked_at"]) if item.get("checked_at") else None,
        due_at=parse_instant(item["due_at"]) if item.get("due_at") else None,
    )


def stored_levels_from_item(item: Mapping[str, Any] | None) -> StoredLevels | None:
    if not item:
        return None
    return StoredLevels(
        settings=LevelSettings.model_validate(item["value"]),
        version=int(item["version"]),
        updated_at=parse_instant(item["updated_at"]),
        relevels=tuple(
            Relevel(
                version=int(entry["version"]),
                mode=ChangeMode(entry["mode"]),
                deleted_rank=int(entry["deleted_rank"]) if entry.get("deleted_rank") else None,
            )
            for entry in item.get("relevels", [])
        ),
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
