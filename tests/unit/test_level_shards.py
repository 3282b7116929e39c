"""Write-sharded level figures: each figure move lands on its source's shard (``STATE#<n>``,
``DAY#<date>#<n>``), a standing and a day are read as their sums, and an assessment covers exactly
the shards it read (decision 147)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from incentives.core.errors import ConcurrentModification
from incentives.levels.assessment import Trigger
from incentives.levels.ports import Due
from incentives.storage.level_items import contribution_writes, figure_shard
from incentives.storage.levels import TableLevelRepository
from incentives.storage.memory_table import MemoryTable
from incentives.storage.table import query_all

CORP = "ww-1"
PK = f"T#{CORP}#AFF_LEVEL#A"
AT = datetime(2026, 11, 11, 4, tzinfo=UTC)
DAY = date(2026, 11, 11)


def _sources(count: int) -> list[str]:
    """``count`` order sources on distinct shards."""
    found: dict[int, str] = {}
    for n in range(100):
        found.setdefault(figure_shard(f"order:O-{n}"), f"order:O-{n}")
    assert len(found) >= count
    return list(found.values())[:count]


def _move(table: MemoryTable, source: str, deal_fen: int, at: datetime = AT) -> None:
    trigger = Trigger(source=source, event_id=f"e-{source}", at=at)
    table.transact(contribution_writes(CORP, {("A", DAY, "deal_fen"): deal_fen}, trigger))


def test_moves_from_sources_on_other_shards_write_other_items_and_read_back_summed() -> None:
    table, (first, second) = MemoryTable(), _sources(2)
    _move(table, first, 100)
    _move(table, second, 250)
    _move(table, first, -30)  # a refund of the first order: its shard again
    sks = sorted(item["sk"] for item in query_all(table, PK))
    shards = (figure_shard(first), figure_shard(second))
    assert sks == sorted([*(f"DAY#{DAY}#{n}" for n in shards), *(f"STATE#{n}" for n in shards)])
    repo = TableLevelRepository(table)
    standing = repo.standing(CORP, "A")
    assert standing.totals == {"deal_fen": 320} and standing.owed == 3 and standing.owes_assessment
    assert repo.figures(CORP, standing, DAY).days == {DAY: {"deal_fen": 320}}


def test_an_assessment_marks_the_shards_it_read_and_the_affiliate_is_due_once() -> None:
    table, (first, second) = MemoryTable(), _sources(2)
    _move(table, first, 100)
    _move(table, second, 250, AT + timedelta(seconds=1))
    repo = TableLevelRepository(table)
    assert repo.due_affiliates(AT + timedelta(minutes=1)) == [Due(CORP, "A")]
    standing = repo.standing(CORP, "A")
    assert standing.trigger is not None and standing.trigger.source == second  # the latest move
    repo.commit(standing, None, AT + timedelta(minutes=1), assessed=True)
    after = repo.standing(CORP, "A")
    assert not after.owes_assessment and after.totals == {"deal_fen": 350}
    assert repo.due_affiliates(AT + timedelta(minutes=1)) == []


def test_a_move_on_a_shard_read_refuses_the_commit_and_one_on_another_stays_owed() -> None:
    table, (first, second, third) = MemoryTable(), _sources(3)
    _move(table, first, 100)
    repo = TableLevelRepository(table)
    stale = repo.standing(CORP, "A")
    _move(table, first, 5)  # on the shard the assessment read: its figures are stale
    with pytest.raises(ConcurrentModification):
        repo.commit(stale, None, AT, assessed=True)
    _move(table, second, 7)
    read = repo.standing(CORP, "A")
    _move(table, third, 9)  # on a shard it did not cover: stays owed for the next assessment
    repo.commit(read, None, AT, assessed=True)
    after = repo.standing(CORP, "A")
    assert after.owes_assessment and after.owed - after.assessed == 1
    assert after.trigger is not None and after.trigger.source == third
    assert repo.due_affiliates(AT + timedelta(minutes=1)) == [Due(CORP, "A")]
