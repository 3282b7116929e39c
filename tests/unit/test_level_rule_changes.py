"""Seed 001 §2.3.3 (5) and §2.3.5: changing the level rules (recalculate or keep with quotas),
deleting a level, and the preview of either before it is applied."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incentives.core.errors import InvalidInput
from incentives.levels import service
from incentives.levels.assessment import ChangeKind
from incentives.levels.preview import PreviewRequest, preview
from incentives.levels.settings import ChangeMode, LevelSettings
from incentives.levels.views import history, my_level
from incentives.webhook.models import ReferralClicked
from tests.support import paid_fact
from tests.support.levels import CORP, TZ, LevelWorld

T0 = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)
"""4.1 10:00 in Shanghai."""


def _paid_orders(*at_least: int) -> list[dict[str, Any]]:
    """Level 1, then one level per number of paid orders (unlimited)."""
    names = ["等级一", "等级二", "等级三", "等级四", "等级五"]
    return [
        {"name": names[0]},
        *(
            {"name": names[n + 1], "threshold": {"conditions": [{"metric": "paid_orders", "at_least": k}]}}
            for n, k in enumerate(at_least)
        ),
    ]


BEFORE = _paid_orders(5, 10, 20)
"""The rules the affiliate reached level 3 under: 16 paid orders."""
AFTER = _paid_orders(11, 21, 31)
"""The seed's new rules, as its example implies them: level 3 needs 21 (16 + 5 quota), level 4 then
10 more (31), and 16 recalculated is level 2."""


def _world_at_level_3_with_16_paid_orders(customer: str = "C", affiliate: str = "A") -> LevelWorld:
    world = LevelWorld.create(T0)
    world.set_levels(*BEFORE)
    _add(world, affiliate, customer, 16)
    return world


def _add(world: LevelWorld, affiliate: str, customer: str, orders: int) -> None:
    world.join(affiliate)
    world.send(
        f"click-{customer}", ReferralClicked(customer_id=customer, affiliate_id=affiliate, clicked_at=T0)
    )
    for n in range(orders):
        world.send(f"paid-{customer}-{n}", paid_fact(f"{customer}-{n}", customer, 1_000, paid_at=T0))
    world.run_job(T0)


def _change(world: LevelWorld, levels: list[dict[str, Any]], mode: ChangeMode) -> None:
    document = LevelSettings.model_validate({"levels": levels})
    service.save_settings(world.levels, CORP, document, world.clock.now(), on_change=mode)
    world.run_job()


def test_keep_level_3_with_16_paid_orders_gives_quota_plus_5_and_level_4_then_needs_10_more() -> None:
    world = _world_at_level_3_with_16_paid_orders()
    assert world.rank("A") == 3
    _change(world, AFTER, ChangeMode.KEEP)
    assert world.rank("A") == 3
    standing = world.levels.standing(CORP, "A")
    assert standing.quota == {"paid_orders": 5} and standing.totals["paid_orders"] == 16
    mine = my_level(world.levels, CORP, "A", 1000, world.clock.now(), TZ)
    assert mine.quota == {"paid_orders": 5}
    level_4 = mine.next_levels[0]
    assert (level_4.rank, level_4.conditions[0].value, level_4.conditions[0].quota) == (4, 21, 5)
    assert level_4.conditions[0].remaining == 10
    why = history(world.levels, CORP, "A", for_affiliate=True).changes[0]
    assert (why.kind, why.from_rank, why.to_rank, why.quota, why.rule_version) == (
        ChangeKind.QUOTA,
        3,
        3,
        {"paid_orders": 5},
        2,
    )


def test_keep_then_10_more_paid_orders_reach_level_4_and_its_why_shows_the_quota() -> None:
    world = _world_at_level_3_with_16_paid_orders()
    _change(world, AFTER, ChangeMode.KEEP)
    for n in range(16, 25):
        world.send(f"paid-C-{n}", paid_fact(f"C-{n}", "C", 1_000, paid_at=T0))
    world.run_job()
    assert world.rank("A") == 3  # 25 + 5 = 30
    world.send("paid-C-25", paid_fact("C-25", "C", 1_000, paid_at=T0))
    world.run_job()
    assert world.rank("A") == 4
    why = history(world.levels, CORP, "A", for_affiliate=True).changes[0]
    assert [(c.value, c.quota, c.at_least) for c in why.threshold.conditions] == [(31, 5, 31)]


def test_recalculate_level_3_with_16_paid_orders_gives_level_2() -> None:
    world = _world_at_level_3_with_16_paid_orders()
    _change(world, AFTER, ChangeMode.RECALCULATE)
    assert world.rank("A") == 2 and world.levels.standing(CORP, "A").quota == {}
    why = history(world.levels, CORP, "A", for_affiliate=True).changes[0]
    assert (why.kind, why.from_rank, why.to_rank, why.rule_version) == (ChangeKind.RECALCULATED, 3, 2, 2)


def test_keep_gives_a_negative_quota_when_the_figures_exceed_the_next_level() -> None:
    world = _world_at_level_3_with_16_paid_orders()
    _change(world, _paid_orders(2, 3, 4), ChangeMode.KEEP)
    assert world.rank("A") == 3 and world.levels.standing(CORP, "A").quota == {"paid_orders": -13}


def test_renaming_a_level_or_changing_its_rate_re_levels_nobody() -> None:
    world = _world_at_level_3_with_16_paid_orders()
    renamed = [dict(level, name=f"新{level['name'][-1]}") for level in BEFORE]
    _change(world, renamed, ChangeMode.KEEP)
    assert world.levels.standing(CORP, "A").quota == {}
    assert history(world.levels, CORP, "A", for_affiliate=True).changes[0].kind is ChangeKind.UPGRADE


def test_a_rule_change_re_levels_every_affiliate_through_the_scheduled_run_not_the_call() -> None:
    world = _world_at_level_3_with_16_paid_orders()
    _add(world, "B", "D", 3)
    document = LevelSettings.model_validate({"levels": AFTER})
    service.save_settings(world.levels, CORP, document, world.clock.now(), on_change=ChangeMode.RECALCULATE)
    assert (world.rank("A"), world.rank("B")) == (3, 1)
    assert world.run_job()["relevel_marked"] == 2
    assert (world.rank("A"), world.rank("B")) == (2, 1)
    assert world.run_job()["level_changes"] == 0


# --- deleting a level (§2.3.5) --------------------------------------------------------------------


def test_deleting_a_level_re_levels_its_members_and_renumbers_those_above() -> None:
    world = _world_at_level_3_with_16_paid_orders()
    _add(world, "B", "D", 25)
    _add(world, "E", "F", 6)
    assert (world.rank("A"), world.rank("B"), world.rank("E")) == (3, 4, 2)
    service.delete_level(world.levels, CORP, 3, world.clock.now())
    # before anyone is re-levelled the counts are in the new numbering: 3's members at 2, 4's at 3
    assert world.levels.members(CORP) == {1: 0, 2: 2, 3: 1}
    # and so are their levels, as they see them and as a payment's commission takes them
    seen = my_level(world.levels, CORP, "B", 1000, world.clock.now(), TZ)
    assert (seen.rank, seen.name) == (3, "等级四")
    assert history(world.levels, CORP, "A", for_affiliate=True).rank == 2
    stored = world.levels.settings(CORP)
    standing = world.levels.standing(CORP, "B")
    assert service.rank_in_force(world.levels, standing, world.clock.now(), stored) == 3
    assert service.rank_in_force(world.levels, standing, T0 - timedelta(days=1), stored) == 1
    world.run_job()
    assert (world.rank("A"), world.rank("B"), world.rank("E")) == (2, 3, 2)
    why = history(world.levels, CORP, "A", for_affiliate=True).changes[0]
    assert (why.kind, why.from_rank, why.to_rank, why.to_name) == (ChangeKind.RECALCULATED, 3, 2, "等级二")
    assert [level.name for level in world.levels.settings(CORP).settings.levels] == [
        "等级一",
        "等级二",
        "等级四",
    ]
    assert world.levels.members(CORP) == {1: 0, 2: 2, 3: 1}


def test_keep_keeps_the_level_the_rules_before_the_change_give_to_figures_not_assessed_yet() -> None:
    world = _world_at_level_3_with_16_paid_orders()
    for n in range(16, 20):  # 20 paid orders: level 4 under the rules before, not assessed yet
        world.send(f"paid-C-{n}", paid_fact(f"C-{n}", "C", 1_000, paid_at=T0))
    assert world.rank("A") == 3
    _change(world, AFTER, ChangeMode.KEEP)
    assert world.rank("A") == 4 and world.levels.standing(CORP, "A").quota == {"paid_orders": 11}
    why = history(world.levels, CORP, "A", for_affiliate=True).changes[0]
    assert (why.kind, why.from_rank, why.to_rank, why.quota) == (ChangeKind.QUOTA, 3, 4, {"paid_orders": 11})


def test_keep_after_a_recalculate_not_followed_yet_keeps_the_recalculated_level() -> None:
    world = _world_at_level_3_with_16_paid_orders()
    now = world.clock.now()
    service.save_settings(world.levels, CORP, LevelSettings.model_validate({"levels": AFTER}), now)
    # before the job runs, a second change with keep: level 2 is what the rules before it give
    service.save_settings(
        world.levels,
        CORP,
        LevelSettings.model_validate({"levels": _paid_orders(12, 22, 32)}),
        now,
        on_change=ChangeMode.KEEP,
    )
    world.run_job()
    assert world.rank("A") == 2 and world.levels.standing(CORP, "A").quota == {}


def test_a_re_levelling_page_done_twice_or_after_a_newer_change_does_nothing_more() -> None:
    world = _world_at_level_3_with_16_paid_orders()
    for who, customer in (("B", "D"), ("E", "F")):
        _add(world, who, customer, 1)
    now = world.clock.now()
    service.save_settings(world.levels, CORP, LevelSettings.model_validate({"levels": AFTER}), now)
    first = service.relevel_page(world.levels, None, CORP, now, 2)
    assert first is not None and first.marked == ["A", "B"] and first.next is not None
    assert service.relevel_page(world.levels, first.next, CORP, now, 2) is not None  # E: the last page
    assert service.relevel_page(world.levels, first.next, CORP, now, 2) is None  # redelivered: done
    service.save_settings(world.levels, CORP, LevelSettings.model_validate({"levels": BEFORE}), now)
    restarted = service.relevel_page(world.levels, None, CORP, now, 2)
    assert restarted is not None and restarted.marked == ["A", "B"]
    assert service.relevel_page(world.levels, first.next, CORP, now, 2) is None  # the old job's page
    with pytest.raises(InvalidInput) as refused:
        service.relevel_page(world.levels, None, CORP, now, 0)
    assert refused.value.field == "page"
    assert world.run_job()["relevel_marked"] == 1  # the restarted job's last page, E
    assert (world.rank("A"), world.rank("B"), world.rank("E")) == (3, 1, 1)


def test_level_1_cannot_be_deleted() -> None:
    world = _world_at_level_3_with_16_paid_orders()
    with pytest.raises(InvalidInput) as refused:
        service.delete_level(world.levels, CORP, 1, world.clock.now())
    assert refused.value.field == "rank"


# --- ★ preview ---------------------------------------------------------------------------------


def test_preview_of_keep_shows_the_quotas_and_moves_nobody() -> None:
    world = _world_at_level_3_with_16_paid_orders()
    request = PreviewRequest(
        levels=LevelSettings.model_validate({"levels": AFTER}), on_change=ChangeMode.KEEP
    )
    seen = preview(world.levels, CORP, request, world.clock.now(), TZ)
    assert seen.relevels and seen.moves == []
    assert [(row.affiliate_id, row.rank, row.quota) for row in seen.quotas] == [("A", 3, {"paid_orders": 5})]
    assert [row.affiliates for row in seen.after] == [0, 0, 1, 0]
    assert world.levels.standing(CORP, "A").quota == {}  # nothing written


def test_preview_goes_a_page_of_affiliates_at_a_time_with_the_tenant_s_counts_on_each() -> None:
    world = _world_at_level_3_with_16_paid_orders()
    _add(world, "B", "D", 25)
    _add(world, "E", "F", 6)
    levels = LevelSettings.model_validate({"levels": AFTER})
    first = preview(world.levels, CORP, PreviewRequest(levels=levels, page_size=2), world.clock.now(), TZ)
    assert first.affiliates == 2 and first.next_cursor is not None
    assert [row.affiliates for row in first.members] == [0, 1, 1, 1]
    rest = PreviewRequest(levels=levels, page_size=2, cursor=first.next_cursor)
    second = preview(world.levels, CORP, rest, world.clock.now(), TZ)
    assert second.affiliates == 1 and second.next_cursor is None
    both = [first.before[n].affiliates + second.before[n].affiliates for n in range(4)]
    assert both == [row.affiliates for row in first.members] == [0, 1, 1, 1]
    assert sorted(m.affiliate_id for m in [*first.moves, *second.moves]) == ["A", "B", "E"]
    with pytest.raises(InvalidInput) as refused:
        preview(world.levels, CORP, PreviewRequest(levels=levels, cursor="not-ours"), world.clock.now(), TZ)
    assert refused.value.field == "cursor"


def test_preview_of_recalculate_counts_per_level_before_and_after_and_who_moves() -> None:
    world = _world_at_level_3_with_16_paid_orders()
    _add(world, "B", "D", 25)
    request = PreviewRequest(levels=LevelSettings.model_validate({"levels": AFTER}))
    seen = preview(world.levels, CORP, request, world.clock.now(), TZ)
    assert [row.affiliates for row in seen.before] == [0, 0, 1, 1]
    assert [row.affiliates for row in seen.after] == [0, 1, 1, 0]
    assert sorted((m.affiliate_id, m.from_rank, m.to_rank, m.direction) for m in seen.moves) == [
        ("A", 3, 2, "down"),
        ("B", 4, 3, "down"),
    ]
    assert seen.quotas == [] and world.rank("A") == 3


def test_preview_of_a_deletion_and_of_who_a_cycle_would_downgrade_within_7_and_30_days() -> None:
    world = _world_at_level_3_with_16_paid_orders()
    cycle = [dict(level) for level in BEFORE]
    cycle[1] = {**cycle[1], "period_days": 10, "downgrade": {"kind": "cycle"}}
    cycle[2] = {**cycle[2], "period_days": 10, "downgrade": {"kind": "cycle"}}
    request = PreviewRequest(levels=LevelSettings.model_validate({"levels": cycle}))
    world.clock.instant = T0 + timedelta(days=1)
    seen = preview(world.levels, CORP, request, world.clock.now(), TZ)
    assert seen.moves == []  # 16 paid orders on 4.1: level 3 within 10 days
    assert seen.downgraded_within_7_days == []
    assert [(row.affiliate_id, row.rank, row.to_rank, row.on) for row in seen.downgraded_within_30_days] == [
        ("A", 3, 2, date(2026, 4, 21))  # the cycle 4.11–4.20 had none
    ]
    deletion = preview(world.levels, CORP, PreviewRequest(delete_rank=3), world.clock.now(), TZ)
    assert [row.name for row in deletion.after] == ["等级一", "等级二", "等级四"]
    assert [(m.from_rank, m.to_rank) for m in deletion.moves] == [(3, 2)]


# --- quotas, as a property ------------------------------------------------------------------------


def _highest_met(settings: LevelSettings, figures: Any, day: date, quota: dict[str, int]) -> int:
    from incentives.levels.assessment import recalculated_rank

    return recalculated_rank(settings, 1, figures, day, quota)


@given(
    paid=st.integers(0, 60),
    received=st.integers(0, 60_000),
    steps=st.lists(st.tuples(st.integers(1, 10), st.integers(1, 10_000)), min_size=1, max_size=4),
    matches=st.lists(st.sampled_from(["all", "any"]), min_size=4, max_size=4),
    rank=st.integers(1, 5),
)
@settings(max_examples=300, deadline=None)
def test_keep_quota_makes_the_figures_fit_the_kept_level_exactly(
    paid: int, received: int, steps: list[tuple[int, int]], matches: list[str], rank: int
) -> None:
    """Whatever the figures and the new thresholds (each metric's rising with the rank), the
    figures plus the quota meet the kept level and no automatic level above it."""
    from incentives.levels.metrics import MetricHistory
    from incentives.levels.quotas import keep_quota

    levels: list[dict[str, Any]] = [{"name": "L1"}]
    at_paid, at_received = 0, 0
    for n, (more_paid, more_received) in enumerate(steps):
        at_paid, at_received = at_paid + more_paid, at_received + more_received
        conditions = [{"metric": "paid_orders", "at_least": at_paid}]
        if n % 2:
            conditions.append({"metric": "received_fen", "at_least": at_received})
        levels.append({"name": f"L{n + 2}", "threshold": {"match": matches[n], "conditions": conditions}})
    document = LevelSettings.model_validate({"levels": levels})
    kept = min(rank, len(levels))
    figures = MetricHistory({"paid_orders": paid, "received_fen": received}, {})
    quota = keep_quota(document, kept, figures, date(2026, 4, 12))
    assert _highest_met(document, figures, date(2026, 4, 12), quota) == kept


def test_deleting_a_level_moves_the_targets_above_it_down_and_a_target_on_it_to_the_level_below() -> None:
    from incentives.levels.settings import without_level

    document = LevelSettings.model_validate(
        {
            "levels": [
                *_paid_orders(1, 2, 3),
                {
                    "name": "等级五",
                    "period_days": 10,
                    "threshold": {"conditions": [{"metric": "paid_orders", "at_least": 9}]},
                    "downgrade": {"kind": "cycle", "to_rank": 3},
                },
                {
                    "name": "等级六",
                    "period_days": 10,
                    "threshold": {"conditions": [{"metric": "paid_orders", "at_least": 10}]},
                    "downgrade": {"kind": "cycle", "to_rank": 4},
                },
            ]
        }
    )
    left = without_level(document, 3)
    assert [level.name for level in left.levels] == ["等级一", "等级二", "等级四", "等级五", "等级六"]
    assert [level.downgrade.to_rank for level in left.levels[3:]] == [2, 3]
