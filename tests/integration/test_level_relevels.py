"""Rule changes and deleted levels re-level every affiliate through the assessment job's fan-out,
a page of affiliates at a time (seed 001 §2.3.3 (5), §2.3.5): each page marks its affiliates owed
an assessment and leaves them and the next page to the same run. The page is set small here
through the function's ``LEVEL_RELEVEL_PAGE_SIZE``, so one run goes through several pages."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import StackHandle
from tests.integration.test_affiliates import NOW, admin, call, click, configure, join, pay
from tests.integration.test_levels import PAID_ORDERS, SEED_SCENARIO, _by
from tests.support import ROOT, token_for

HARDER = {
    "levels": [
        PAID_ORDERS["levels"][0],
        _by("paid_orders", 3, name="铜牌"),
        _by("paid_orders", 5, name="银牌"),
    ]
}
AFFILIATES = ("A", "B", "C", "D", "E")


def _tenant(stack: StackHandle, monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Five affiliates under PAID_ORDERS: A with 2 paid orders (level 3), B with 1 (level 2), the
    others none; a page of 2 affiliates. Returns the time of the job run that levelled them."""
    monkeypatch.setenv("LEVEL_RELEVEL_PAGE_SIZE", "2")
    configure(stack)
    for who in AFFILIATES:
        join(stack, who)
    admin(stack, "PUT", "/admin/affiliates/levels", json=PAID_ORDERS)
    click(stack, "CA", "A", NOW - timedelta(hours=3))
    click(stack, "CB", "B", NOW - timedelta(hours=3))
    pay(stack, "SO-A1", "CA", 10_000, NOW - timedelta(hours=2))
    pay(stack, "SO-A2", "CA", 10_000, NOW - timedelta(hours=2))
    pay(stack, "SO-B1", "CB", 10_000, NOW - timedelta(hours=2))
    job = datetime.now(UTC) + timedelta(minutes=1)
    stack.fire("LevelAssessmentFunction", job)
    assert _ranks(stack) == [3, 2, 1, 1, 1]
    return job


def _ranks(stack: StackHandle) -> list[int]:
    return [admin(stack, "GET", f"/admin/affiliates/{who}/level-history")["rank"] for who in AFFILIATES]


def _relevel_job(stack: StackHandle) -> dict[str, Any]:
    [job] = [item for item in stack.table_items() if item.get("kind") == "level_relevel"]
    return job


def test_a_rule_change_re_levels_everyone_through_the_fan_out_page_by_page(
    stack: StackHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _tenant(stack, monkeypatch)
    admin(stack, "PUT", "/admin/affiliates/levels", json=HARDER)
    assert _ranks(stack) == [3, 2, 1, 1, 1]  # the call writes the job, not the affiliates
    assert "gsi4pk" in _relevel_job(stack)

    run = stack.fire("LevelAssessmentFunction", job + timedelta(minutes=1))
    assert (run["relevel_pages"], run["relevel_marked"], run["failed"]) == (3, 5, [])  # 2 + 2 + 1
    assert _ranks(stack) == [1, 1, 1, 1, 1]  # the same run assessed everyone marked
    why = admin(stack, "GET", "/admin/affiliates/A/level-history")["changes"][0]
    assert (why["kind"], why["rule_version"]) == ("recalculated", 2)
    assert "gsi4pk" not in _relevel_job(stack)  # done: out of the due index

    again = stack.fire("LevelAssessmentFunction", job + timedelta(minutes=2))
    assert (again["relevel_pages"], again["relevel_marked"], again["level_changes"]) == (0, 0, 0)


def test_a_deleted_level_counts_its_members_below_at_once_and_re_levels_them_page_by_page(
    stack: StackHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _tenant(stack, monkeypatch)
    stack.fire("LevelMemberCountFunction", job)
    counts = admin(stack, "GET", "/admin/affiliates/levels")["levels"]
    assert [row["member_count"] for row in counts] == [3, 1, 1]

    deleted = admin(stack, "DELETE", "/admin/affiliates/levels/{rank}", path_parameters={"rank": "2"})
    # the counts, taken before, are shown in the new numbering: 铜牌's member below it, 银牌 at 2
    assert [(row["name"], row["member_count"]) for row in deleted["levels"]] == [("普通", 4), ("银牌", 1)]
    # nobody re-levelled yet: saving the two levels left is not refused for a stale rank 3 …
    renamed = {"levels": [PAID_ORDERS["levels"][0], {**PAID_ORDERS["levels"][2], "name": "金牌"}]}
    admin(stack, "PUT", "/admin/affiliates/levels", json=renamed)
    # … while dropping the level A is on is
    status, refused = call(
        stack,
        "AffiliateAdminApiFunction",
        "PUT",
        "/admin/affiliates/levels",
        token_for("admin"),
        json={"levels": [PAID_ORDERS["levels"][0]]},
    )
    assert (status, refused["error"]["field"]) == (409, "levels.1"), refused

    run = stack.fire("LevelAssessmentFunction", job + timedelta(minutes=1))
    assert (run["relevel_pages"], run["relevel_marked"], run["failed"]) == (3, 5, [])
    assert _ranks(stack) == [2, 1, 1, 1, 1]  # A still meets 金牌 (2 orders); B's level is gone
    b = admin(stack, "GET", "/admin/affiliates/B/level-history")["changes"][0]
    assert (b["kind"], b["from_rank"], b["to_rank"]) == ("recalculated", 2, 1)
    a = admin(stack, "GET", "/admin/affiliates/A/level-history")["changes"][0]
    assert (a["kind"], a["from_rank"], a["to_rank"], a["to_name"]) == ("recalculated", 3, 2, "金牌")
    stack.fire("LevelMemberCountFunction", job + timedelta(hours=3))
    counts = admin(stack, "GET", "/admin/affiliates/levels")["levels"]
    assert [row["member_count"] for row in counts] == [4, 1]


def _readme_rules() -> dict[str, Any]:
    """The new rules of the README's level-rules block, as it sends them."""
    block = (ROOT / "README.md").read_text(encoding="utf-8").split("<!-- runnable:start level-rules -->")[1]
    found = re.search(r"RULES='(.*?)'", block, re.S)
    assert found is not None
    rules: dict[str, Any] = json.loads(found.group(1))
    return rules


def test_the_readme_level_rules_steps_need_one_run_after_the_deletions(stack: StackHandle) -> None:
    # the levels block: the seed's eight levels, X set to 5 by hand, rises to 6 on inviting Z
    configure(stack)
    join(stack, "X")
    admin(stack, "PUT", "/admin/affiliates/levels", json=SEED_SCENARIO)
    admin(stack, "PATCH", "/admin/affiliates/X/level", json={"rank": 5, "reason": "新微客入驻计划"})
    join(stack, "Z", invited_by="X")
    assert _rank(stack, "X") == 6
    # the level-rules block, step by step
    for rank in (8, 7, 6, 5):
        admin(stack, "DELETE", "/admin/affiliates/levels/{rank}", path_parameters={"rank": str(rank)})
    job = datetime.now(UTC) + timedelta(minutes=1)
    run = stack.fire("LevelAssessmentFunction", job)
    assert (run["relevel_pages"], run["relevel_marked"], run["failed"]) == (1, 2, [])
    assert _rank(stack, "X") == 1  # 等级四 (deal amount) is not met: recalculated to level 1
    admin(
        stack,
        "POST",
        "/admin/affiliates/levels/preview",
        json={"levels": _readme_rules(), "on_change": "keep"},
    )
    admin(stack, "PUT", "/admin/affiliates/levels", json=_readme_rules(), query={"on_change": ["keep"]})
    stack.fire("LevelAssessmentFunction", job + timedelta(minutes=1))
    history = admin(stack, "GET", "/admin/affiliates/X/level-history")
    assert history["rank"] == 1 and history["changes"][0]["kind"] == "recalculated"
    seen = admin(stack, "POST", "/admin/affiliates/levels/preview", json={"delete_rank": 3})
    assert seen["affiliates"] == 2 and seen["next_cursor"] is None


def _rank(stack: StackHandle, who: str) -> int:
    return int(admin(stack, "GET", f"/admin/affiliates/{who}/level-history")["rank"])
