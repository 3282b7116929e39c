"""The affiliates area's shape: rules that speak no storage, and a unit of work that names what failed."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest

from incentives.affiliates.ports import (
    ActivityCounted,
    FiguresAdded,
    ProductsBought,
    ProfileChanged,
    Stale,
    TooLarge,
)
from incentives.storage.affiliates import TableAffiliates
from incentives.storage.memory_table import MemoryTable

AREA = Path(__file__).parents[2] / "layers/incentives/python/incentives/affiliates"
KNOWN = {
    ("application/form.py", "incentives.api.errors"),  # invalid_input, until it moves to the core
}
FORBIDDEN = ("incentives.storage", "incentives.api", "boto3", "botocore")
CORP, NOW = "repo-unit", datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _rules() -> list[Path]:
    return sorted(AREA.rglob("*.py"))


def test_the_affiliate_rules_import_no_storage_api_or_aws() -> None:
    speaking = sorted(
        (str(path.relative_to(AREA)), module)
        for path in _rules()
        for module in _imports(path)
        if module.startswith(FORBIDDEN)
    )
    assert [found for found in speaking if found not in KNOWN] == []


def test_every_affiliate_module_is_under_400_lines() -> None:
    modules = [*AREA.rglob("*.py"), *(AREA.parent / "storage/affiliates").rglob("*.py")]
    assert {path.name: n for path in modules if (n := len(path.read_text().splitlines())) >= 400} == {}


def test_a_source_counted_before_comes_back_as_stale_naming_it_and_nothing_is_written() -> None:
    affiliates = TableAffiliates(MemoryTable())
    counted = ActivityCounted("C", "order:O1", NOW, {"consumption_count": 1})
    affiliates.commit(CORP, [counted])
    again = ActivityCounted("C", "order:O1", NOW, {"consumption_count": 1})
    figures = FiguresAdded("A", NOW, {"paid_orders": 1})
    with pytest.raises(Stale) as stale:
        affiliates.commit(CORP, [figures, again])
    assert stale.value.changes == [again]
    assert affiliates.activity(CORP, "C")["consumption_count"] == 1
    assert affiliates.stats(CORP, "A") == {}


def test_a_change_on_a_moved_profile_is_stale() -> None:
    affiliates = TableAffiliates(MemoryTable())
    change = ProfileChanged("A", expected_version=1, values={"types": ["product"]})
    with pytest.raises(Stale) as stale:
        affiliates.commit(CORP, [change])  # no profile at version 1
    assert stale.value.changes == [change]


def test_changes_beyond_one_transaction_are_refused_whole() -> None:
    table = MemoryTable()
    affiliates = TableAffiliates(table)
    products = tuple(f"P{n}" for n in range(101))
    with pytest.raises(TooLarge):
        affiliates.commit(CORP, [ProductsBought("C", "O1", products)])
    assert table.items == {} and affiliates.bought(CORP, "C", ["P0"]) == frozenset()


def test_records_carry_no_keys() -> None:
    affiliates = TableAffiliates(MemoryTable())
    affiliates.commit(CORP, [FiguresAdded("A", NOW, {"paid_orders": 1}, "2026-11-24", {"issued_fen": 5})])
    assert affiliates.day(CORP, "A", "2026-11-24") == {
        "kind": "affiliate_day",
        "day": "2026-11-24",
        "issued_fen": 5,
    }
    assert not {"pk", "sk"} & set(affiliates.stats(CORP, "A"))
