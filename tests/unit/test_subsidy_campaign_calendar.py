"""A tenant's subsidy campaigns never overlap (decision 130): the pure rule, and the repository
under concurrent writes on the atomic in-memory table."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from incentives.core.errors import Conflict
from incentives.storage.memory_table import MemoryTable
from incentives.storage.subsidy import TableSubsidyRepository
from incentives.subsidy.campaign import Campaign, CampaignTerms, overlapping

AT = datetime(2026, 6, 1, tzinfo=UTC)
DAY0 = date(2026, 1, 1)


def _terms(starts: int, days: int) -> CampaignTerms:
    return CampaignTerms(
        name="plan", starts_on=DAY0 + timedelta(days=starts), ends_on=DAY0 + timedelta(days=starts + days)
    )


def _campaign(campaign_id: str, starts: int, days: int) -> Campaign:
    return Campaign(**_terms(starts, days).model_dump(), campaign_id=campaign_id, updated_at=AT)


@given(st.integers(0, 60), st.integers(0, 20), st.integers(0, 60), st.integers(0, 20))
def test_two_windows_overlap_exactly_when_they_share_a_day(a: int, a_len: int, b: int, b_len: int) -> None:
    stored = _campaign("stored", a, a_len)
    days_a = {a + i for i in range(a_len + 1)}
    days_b = {b + i for i in range(b_len + 1)}
    clash = overlapping([stored], "new", _terms(b, b_len))
    assert (clash is stored) == bool(days_a & days_b)


def test_a_campaign_does_not_overlap_itself() -> None:
    stored = _campaign("july", 181, 30)
    assert overlapping([stored], "july", _terms(185, 30)) is None


class _ReadTogether:
    """The in-memory table, but every reader of the campaigns waits until all have read: the
    race in which each writer checked the windows against the same campaigns, every time."""

    def __init__(self, table: MemoryTable, readers: int) -> None:
        self._table = table
        self._barrier = threading.Barrier(readers)

    def query(self, *args: Any, **kwargs: Any) -> Any:
        page = self._table.query(*args, **kwargs)
        self._barrier.wait(timeout=60)
        return page

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def test_concurrent_creations_of_overlapping_campaigns_land_once() -> None:
    table = MemoryTable()
    repository = TableSubsidyRepository(_ReadTogether(table, 4), "Asia/Shanghai")  # type: ignore[arg-type]
    outcomes: list[str] = []

    def create(n: int) -> None:
        try:
            repository.create_campaign("corp", f"c{n}", _terms(n, 10), AT, "admin")
            outcomes.append("created")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=create, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "created"], outcomes
    assert len(TableSubsidyRepository(table, "Asia/Shanghai").campaigns("corp")) == 1
