"""An affiliate's standing read from its items: ``STATE`` and the write-sharded running totals of
its figures (``STATE#<shard>``, ``storage.level_items``), summed in one batched read."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from incentives.levels.assessment import Trigger
from incentives.levels.ports import Standing
from incentives.storage.level_items import STANDING_SHARDS, standing_from_item, state_key, totals_key
from incentives.storage.table import Equals, Update


def standing_keys(corp_id: str, affiliate_id: str) -> list[dict[str, str]]:
    """Every item a standing is read from: ``STATE``, then each shard of its figures."""
    shards = [totals_key(corp_id, affiliate_id, shard) for shard in range(STANDING_SHARDS)]
    return [state_key(corp_id, affiliate_id), *shards]


def standing_from_items(
    corp_id: str, affiliate_id: str, items: Sequence[Mapping[str, Any] | None]
) -> Standing:
    """The standing read as :func:`standing_keys`: ``STATE`` with the figures of every shard summed
    (totals, owed, assessed) and the latest trigger still owed (else the latest), each item's
    ``(owed, assessed)`` kept for the commit's guards."""
    state, parts = items[0], [item for item in items if item]
    standing = standing_from_item(corp_id, affiliate_id, state)
    totals: dict[str, int] = defaultdict(int)
    for item in parts:
        for name, value in item.items():
            if name.startswith("t_"):
                totals[name[2:]] += int(value)
    marks = {str(item["sk"]): (int(item.get("owed", 0)), int(item.get("assessed", 0))) for item in parts}
    triggers = [
        (owed > assessed, Trigger.model_validate(item["trigger"]))
        for item, (owed, assessed) in zip(parts, marks.values(), strict=True)
        if item.get("trigger")
    ]
    latest = max(triggers, key=lambda found: (found[0], found[1].at), default=None)
    return dataclasses.replace(
        standing,
        owed=sum(owed for owed, _ in marks.values()),
        assessed=sum(assessed for _, assessed in marks.values()),
        totals=dict(totals),
        trigger=latest[1] if latest else None,
        marks=marks,
    )


def covered_shards(standing: Standing) -> list[Update]:
    """An assessment's marks on the figures' shards it covered: each still owed as read is marked
    assessed (and leaves the due queue), refused if a figure moved there since."""
    return [
        Update(
            {**state_key(standing.corp_id, standing.affiliate_id), "sk": sk},
            set={"assessed": owed},
            remove=("gsi4pk", "gsi4sk"),
            conditions=(Equals("owed", owed),),
        )
        for sk, (owed, assessed) in sorted(standing.marks.items())
        if sk != "STATE" and owed > assessed
    ]
