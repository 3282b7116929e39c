"""Affiliate levels' re-levelling job and the marks it makes, as items of the single table (with
``storage.level_items`` and ``storage.levels``).

A rule change or a deleted level keeps the rules in force before it (``RULES_BEFORE#<version>``,
what ``keep`` keeps) and starts the tenant's job over (``T#<corp>#AFF_LEVELS`` / ``RELEVEL``: its
rule version, the cursor of its next page of standings, its place in the ``LEVEL_RELEVEL`` queue of
the due index while it has pages to go). Each page marks its affiliates owed an assessment.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from incentives.core.clock import iso_utc
from incentives.fanout.model import DueQueue
from incentives.levels.ports import RelevelStep
from incentives.levels.settings import LevelSettings
from incentives.storage.due import due_attributes
from incentives.storage.level_items import _assessment_due, _levels_pk, relevel_key, state_key
from incentives.storage.table import AtMost, Condition, Equals, Put, Update, Write


def rules_before_key(corp_id: str, version: int) -> dict[str, str]:
    return {"pk": _levels_pk(corp_id), "sk": f"RULES_BEFORE#{version:06d}"}


def relevel_due(corp_id: str, at: datetime) -> dict[str, str]:
    """The tenant's re-levelling job's place in the due index, due at ``at``."""
    return due_attributes(DueQueue.LEVEL_RELEVELS, corp_id, at, corp_id, "RELEVEL")


def relevel_writes(corp_id: str, version: int, before: LevelSettings | None, now: datetime) -> list[Write]:
    """A rule change that re-levels: the rules in force before it (what ``keep`` keeps), and the
    tenant's re-levelling job started over at its first page, due at ``now``."""
    job = {**relevel_key(corp_id), "kind": "level_relevel", "corp_id": corp_id, "version": version}
    writes: list[Write] = [Put({**job, "cursor": "", **relevel_due(corp_id, now)})]
    if before is not None:
        kept = {"kind": "level_rules_before", "corp_id": corp_id, "value": before.model_dump(mode="json")}
        writes.append(Put({**rules_before_key(corp_id, version), **kept}))
    return writes


def relevel_step_from_item(corp_id: str, item: Mapping[str, Any]) -> RelevelStep:
    return RelevelStep(corp_id, int(item["version"]), str(item.get("cursor") or "") or None)


def relevel_progress(at: RelevelStep, cursor: str | None) -> Update:
    """The job moved from ``at`` to ``cursor`` (None: done, out of the due index), if still at ``at``."""
    conditions = (Equals("version", at.version), Equals("cursor", at.cursor or ""))
    if cursor:
        return Update(relevel_key(at.corp_id), set={"cursor": cursor}, conditions=conditions)
    return Update(
        relevel_key(at.corp_id), set={"cursor": ""}, remove=("gsi4pk", "gsi4sk"), conditions=conditions
    )


def relevel_entry(step: RelevelStep) -> dict[str, Any]:
    """A due entry of the re-levelling queue that names where the job stands."""
    return {"corp_id": step.corp_id, "version": step.version, "cursor": step.cursor}


def due_relevel(entry: Mapping[str, Any]) -> RelevelStep | None:
    """The job step an entry names (None: an entry as the index projects it, the job as it stands)."""
    if "version" not in entry:
        return None
    cursor = entry.get("cursor")
    return RelevelStep(str(entry["corp_id"]), int(entry["version"]), str(cursor) if cursor else None)


def scheduling(corp_id: str, affiliate_id: str, item: dict[str, Any] | None, at: datetime) -> Update | None:
    """The write that owes the affiliate an assessment at ``at``, if the standing is still ``item``
    (None: one is owed by then already)."""
    item = item or {}
    if item.get("gsi4sk") and str(item["gsi4sk"]) <= _upto(at):
        return None
    owed = int(item.get("owed", 0))
    guard: Condition = Equals("owed", owed) if owed else AtMost("owed", 0)
    values = {"kind": "affiliate_level", "corp_id": corp_id, "affiliate_id": affiliate_id}
    return Update(
        state_key(corp_id, affiliate_id),
        add={"owed": 1},
        set={**values, **_assessment_due(corp_id, affiliate_id, at)},
        conditions=(guard,),
    )


def _upto(now: datetime) -> str:
    return iso_utc(now) + "#~"
