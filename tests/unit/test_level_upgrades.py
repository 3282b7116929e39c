"""Upgrades, manual changes, level rates and the why of every change, on the in-memory table
through the product's own dispatch (seed 001 §2.3)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incentives.core.errors import Conflict, InvalidInput
from incentives.levels import service
from incentives.levels.assessment import ChangeKind
from incentives.levels.views import history, levels_view, my_level
from incentives.storage.affiliates import store
from incentives.webhook.models import (
    MemberRegistered,
    OrderCompleted,
    OrderRefunded,
    RechargePaid,
    ReferralClicked,
    RefundLine,
)
from tests.support import paid_fact
from tests.support.levels import CORP, TZ, LevelWorld

DAY = timedelta(days=1)
T0 = datetime(2026, 3, 20, 2, 0, tzinfo=UTC)
"""3.20 10:00 in Shanghai."""
APRIL_12 = datetime(2026, 4, 12, 2, 0, tzinfo=UTC)


def _by(metric: str, at_least: int, **level: Any) -> dict[str, Any]:
    return {"threshold": {"conditions": [{"metric": metric, "at_least": at_least}]}, **level}


SEED_SCENARIO = (
    {"name": "等级一", "strategy": "manual"},
    _by("deal_fen", 100_000, name="等级二"),
    _by("deal_fen", 200_000, name="等级三"),
    _by("deal_fen", 500_000, name="等级四"),
    {"name": "等级五", "strategy": "manual"},
    _by("invited_affiliates", 1, name="等级六"),
    _by("invited_affiliates", 2, name="等级七"),
    _by("invited_affiliates", 3, name="等级八"),
)


def _world(at: datetime = T0, **program: Any) -> LevelWorld:
    """A (joined 3 days before ``at``) has customer C bound since then."""
    world = LevelWorld.create(at - 3 * DAY, **program)
    world.join("A")
    click = ReferralClicked(customer_id="C", affiliate_id="A", clicked_at=at - 3 * DAY)
    world.send("click-C-A", click)
    world.clock.instant = at
    return world


def _deal(world: LevelWorld, order_id: str, fen: int, completed_at: datetime) -> None:
    """C's order of ``fen``, paid a day before ``completed_at``; its window ends 7 days after."""
    world.send(f"paid-{order_id}", paid_fact(order_id, "C", fen, paid_at=completed_at - DAY))
    world.send(f"completed-{order_id}", OrderCompleted(order_id=order_id, completed_at=completed_at))


# --- the seed's windows ------------------------------------------------------------------------------


def test_a_deal_amount_of_2000_yuan_reached_inside_4_3_to_4_12_upgrades_on_4_12() -> None:
    world = _world()
    _deal(world, "O1", 200_000, completed_at=datetime(2026, 3, 29, 2, tzinfo=UTC))  # counts on 4.5
    world.clock.instant = APRIL_12
    world.set_levels({"name": "一"}, _by("deal_fen", 200_000, name="二", period_days=10))
    world.run_job()
    assert world.rank("A") == 2
    why = history(world.levels, CORP, "A", for_affiliate=False).changes[0]
    assert (why.kind, why.from_rank, why.to_rank, why.rule_version) == (ChangeKind.UPGRADE, 1, 2, 1)
    assert why.threshold is not None
    assert (why.threshold.window_from, why.threshold.window_to) == (date(2026, 4, 3), date(2026, 4, 12))
    assert [(c.metric.value, c.value, c.at_least, c.met) for c in why.threshold.conditions] == [
        ("deal_fen", 200_000, 200_000, True)
    ]
    assert why.trigger is not None and why.trigger.source == "order:O1"
    assert why.trigger.moved == {"deal_fen": 200_000, "deal_orders": 1}


def test_a_deal_amount_of_2000_yuan_reached_on_4_2_does_not_upgrade_on_4_12() -> None:
    world = _world()
    _deal(world, "O1", 200_000, completed_at=datetime(2026, 3, 26, 2, tzinfo=UTC))  # counts on 4.2
    world.clock.instant = APRIL_12
    world.set_levels({"name": "一"}, _by("deal_fen", 200_000, name="二", period_days=10))
    world.run_job()
    assert world.rank("A") == 1
    view = my_level(world.levels, CORP, "A", 1000, APRIL_12, TZ)
    assert [(c.value, c.remaining) for c in view.next_levels[0].conditions] == [(0, 200_000)]


def test_days_are_the_merchants_a_deal_counting_at_23_30_on_4_2_in_shanghai_is_outside_4_3_to_4_12() -> None:
    for deal_at, rank in (
        (datetime(2026, 4, 2, 15, 30, tzinfo=UTC), 1),  # 4.2 23:30 in Shanghai
        (datetime(2026, 4, 2, 16, 10, tzinfo=UTC), 2),  # 4.3 00:10 in Shanghai
    ):
        world = _world()
        _deal(world, "O1", 200_000, completed_at=deal_at - 7 * DAY)
        world.clock.instant = APRIL_12
        world.set_levels({"name": "一"}, _by("deal_fen", 200_000, name="二", period_days=10))
        world.run_job()
        assert world.rank("A") == rank, deal_at


# --- when an upgrade happens -------------------------------------------------------------------------


def test_the_affiliate_rises_right_after_the_event_that_moved_the_figure() -> None:
    world = _world()
    world.set_levels({"name": "一"}, _by("invited_affiliates", 1, name="二"))
    world.join("E", invited_by="A")
    assert world.rank("A") == 2


def test_a_payment_makes_the_assessment_owed_and_the_queue_raises_the_affiliate() -> None:
    """order.paid keeps its three round trips: the assessment it owes runs from the queue."""
    world = _world()
    world.set_levels({"name": "一"}, _by("paid_orders", 1, name="二"))
    world.send("paid-O1", paid_fact("O1", "C", 10_000, paid_at=T0))
    assert world.rank("A") == 1
    assert [due.key for due in world.levels.due_affiliates(T0, 10)] == ["A"]
    assert world.run_job()["level_changes"] == 1
    assert world.rank("A") == 2
    assert world.levels.due_affiliates(T0, 10) == []
    assert world.run_job()["level_changes"] == 0


def test_several_thresholds_met_at_once_rise_to_the_highest() -> None:
    world = _world()
    world.set_levels({"name": "一"}, _by("recharge_fen", 100, name="二"), _by("recharge_fen", 200, name="三"))
    world.send("recharge-1", RechargePaid(recharge_id="RC1", customer_id="A", amount_fen=500, paid_at=T0))
    assert world.rank("A") == 3
    assert [change.kind for change in history(world.levels, CORP, "A", for_affiliate=True).changes] == [
        ChangeKind.UPGRADE,
        ChangeKind.INITIAL,
    ]


def test_moved_by_hand_to_the_manual_level_5_they_rise_to_6_7_8_as_they_meet_them() -> None:
    world = _world()
    world.set_levels(*SEED_SCENARIO)
    change = service.change_by_hand(world.levels, CORP, "A", 5, "新微客入驻计划", "ops-1", world.clock.now())
    assert change is not None and change.kind is ChangeKind.MANUAL and world.rank("A") == 5
    _deal(world, "O1", 600_000, completed_at=T0)  # meets level 4, below 5: no change
    world.run_job(at=T0 + 8 * DAY)
    assert world.rank("A") == 5
    for invited, rank in (("E", 6), ("F", 7), ("G", 8)):
        world.join(invited, invited_by="A")
        assert world.rank("A") == rank
    changes = history(world.levels, CORP, "A", for_affiliate=False).changes
    assert [(c.kind.value, c.to_rank) for c in changes] == [
        ("upgrade", 8),
        ("upgrade", 7),
        ("upgrade", 6),
        ("manual", 5),
        ("initial", 1),
    ]
    assert (changes[3].reason, changes[3].actor) == ("新微客入驻计划", "ops-1")
    assert history(world.levels, CORP, "A", for_affiliate=True).changes[3].actor is None
    assert changes[2].trigger is not None and changes[2].trigger.source == "joined:E"


def test_no_one_enters_a_manual_level_automatically() -> None:
    world = _world()
    world.set_levels(*SEED_SCENARIO)
    _deal(world, "O1", 600_000, completed_at=T0)
    world.run_job(at=T0 + 8 * DAY)
    assert world.rank("A") == 4


def test_a_manual_change_names_an_existing_level_and_a_repeat_changes_nothing() -> None:
    world = _world()
    with pytest.raises(Conflict):
        service.change_by_hand(world.levels, CORP, "A", 2, "r", "ops", T0)
    world.set_levels(*SEED_SCENARIO)
    with pytest.raises(InvalidInput) as refused:
        service.change_by_hand(world.levels, CORP, "A", 9, "r", "ops", T0)
    assert refused.value.field == "rank"
    assert service.change_by_hand(world.levels, CORP, "A", 5, "r", "ops", T0) is not None
    assert service.change_by_hand(world.levels, CORP, "A", 5, "again", "ops", T0) is None
    assert len(history(world.levels, CORP, "A", for_affiliate=False).changes) == 2


# --- level rates ----------------------------------------------------------------------------------


def _share(world: LevelWorld, order_id: str) -> tuple[int, int]:
    item = world.table.get(store.share_key(CORP, order_id, "commission"))
    assert item is not None
    return int(item["amount_fen"]), int(item["lines"][0]["rate_bp"])


RATED = (
    {"name": "一"},
    _by("paid_orders", 1, name="二", commission_rate_bp=2000),
    {"name": "三", "strategy": "manual", "commission_rate_bp": 3000},
)


def test_commissions_use_the_level_rate_in_force_at_payment_and_are_never_repriced() -> None:
    world = _world()
    world.set_levels(*RATED)
    world.send("paid-O1", paid_fact("O1", "C", 10_000, paid_at=T0))
    assert _share(world, "O1") == (1_000, 1000)  # level 1 has no rate: the program's 10 %
    world.run_job()
    world.send("paid-O2", paid_fact("O2", "C", 10_000, paid_at=T0 + timedelta(minutes=1)))
    assert _share(world, "O2") == (2_000, 2000)
    decision = world.table.get(store.decision_key(CORP, "O2"))
    assert decision is not None and (decision["level_rank"], decision["level_rate_bp"]) == (2, 2000)
    service.change_by_hand(world.levels, CORP, "A", 3, "特邀", "ops", T0 + timedelta(minutes=2))
    world.send("paid-O3", paid_fact("O3", "C", 10_000, paid_at=T0 + timedelta(minutes=3)))
    assert [_share(world, order) for order in ("O1", "O2", "O3")] == [
        (1_000, 1000),
        (2_000, 2000),
        (3_000, 3000),
    ]


def test_a_payment_that_arrives_after_a_level_change_is_priced_at_the_level_of_its_payment() -> None:
    world = _world()
    world.set_levels(*RATED)
    service.change_by_hand(world.levels, CORP, "A", 3, "特邀", "ops", T0 + DAY)
    world.send("paid-O1", paid_fact("O1", "C", 10_000, paid_at=T0 + timedelta(hours=2)), at=T0 + 2 * DAY)
    assert _share(world, "O1") == (1_000, 1000)  # paid at level 1, delivered at level 3


def test_a_product_override_comes_before_the_level_rate() -> None:
    world = _world(product_rates={"vip": {"commission_rate_bp": 500}})
    world.set_levels(*RATED)
    service.change_by_hand(world.levels, CORP, "A", 3, "特邀", "ops", T0)
    world.send("paid-O1", paid_fact("O1", "C", 10_000, 10_000, paid_at=T0 + DAY, products=("vip", "p0")))
    item = world.table.get(store.share_key(CORP, "O1", "commission"))
    assert item is not None and [line["rate_bp"] for line in item["lines"]] == [500, 3000]


def test_what_the_affiliate_needs_for_each_level_above() -> None:
    world = _world()
    world.set_levels(
        {"name": "一", "description": "欢迎"},
        _by("paid_orders", 3, name="二", commission_rate_bp=1500, period_days=30),
        {"name": "三", "strategy": "manual"},
        {
            "name": "四",
            "threshold": {
                "match": "any",
                "conditions": [
                    {"metric": "invited_members", "at_least": 2},
                    {"metric": "bought_products", "product_ids": ["gift"]},
                ],
            },
        },
    )
    world.send("member-M1", MemberRegistered(customer_id="M1", registered_at=T0, invited_by_affiliate_id="A"))
    view = my_level(world.levels, CORP, "A", 1000, T0, TZ)
    assert (view.rank, view.name, view.commission_rate_bp, view.rate_from, view.description) == (
        1,
        "一",
        1000,
        "program",
        "欢迎",
    )
    assert [(n.rank, n.commission_rate_bp, n.window_from) for n in view.next_levels] == [
        (2, 1500, date(2026, 2, 19)),
        (4, None, None),
    ]
    assert [(c.metric.value, c.value, c.remaining) for c in view.next_levels[1].conditions] == [
        ("invited_members", 1, 1),
        ("bought_products", 0, 1),
    ]
    world.set_levels({"name": "一", "description": "欢迎"}, show_description=False)
    assert my_level(world.levels, CORP, "A", 1000, T0, TZ).description is None


# --- settings and member counts ----------------------------------------------------------------------


def test_a_level_with_members_cannot_be_removed_and_an_empty_one_can() -> None:
    world = _world()
    world.set_levels(*SEED_SCENARIO)
    service.change_by_hand(world.levels, CORP, "A", 5, "r", "ops", T0)
    with pytest.raises(Conflict) as refused:
        world.set_levels(*SEED_SCENARIO[:4])
    assert refused.value.field == "levels.4"
    world.set_levels(*SEED_SCENARIO[:5])
    assert levels_view(world.levels, CORP).version == 2  # the refused change stored nothing


def test_member_counts_are_refreshed_every_2_hours() -> None:
    world = _world()
    world.join("B")
    world.set_levels(*SEED_SCENARIO)
    service.change_by_hand(world.levels, CORP, "A", 5, "r", "ops", T0)
    assert levels_view(world.levels, CORP).levels[0].member_count is None  # not counted yet
    assert service.refresh_member_counts(world.levels, T0) == 1
    counts = [row.member_count for row in levels_view(world.levels, CORP).levels]
    assert counts == [1, 0, 0, 0, 1, 0, 0, 0]
    world.join("D")
    assert service.refresh_member_counts(world.levels, T0 + timedelta(minutes=119)) == 0
    assert levels_view(world.levels, CORP).levels[0].member_count == 1
    assert service.refresh_member_counts(world.levels, T0 + timedelta(hours=2)) == 1
    assert levels_view(world.levels, CORP).levels[0].member_count == 2


# --- properties -------------------------------------------------------------------------------------------

LEVELS = ({"name": "一"}, _by("deal_fen", 6_000, name="二"), _by("paid_orders", 2, name="三"))


def _events() -> list[tuple[str, Any]]:
    """One affiliate's history: a click, C's order refunded in part and completed, a second order,
    A's own purchase, an invited member and a recharge."""
    return [
        ("click-C-A", ReferralClicked(customer_id="C", affiliate_id="A", clicked_at=T0 - timedelta(hours=1))),
        ("paid-O1", paid_fact("O1", "C", 5_000, 3_000, paid_at=T0, products=("p1", "p2"))),
        (
            "refund-R1",
            OrderRefunded(
                order_id="O1",
                refund_id="R1",
                refunded_at=T0 + DAY,
                lines=[RefundLine(line_id="L1", refund_fen=3_000)],
            ),
        ),
        ("completed-O1", OrderCompleted(order_id="O1", completed_at=T0 + DAY)),
        ("paid-O2", paid_fact("O2", "C", 4_000, paid_at=T0 + DAY)),
        ("completed-O2", OrderCompleted(order_id="O2", completed_at=T0 + 2 * DAY)),
        ("paid-O3", paid_fact("O3", "A", 2_000, paid_at=T0 + DAY, products=("gift",))),
        ("member-M1", MemberRegistered(customer_id="M1", registered_at=T0, invited_by_affiliate_id="A")),
        ("recharge-RC1", RechargePaid(recharge_id="RC1", customer_id="A", amount_fen=700, paid_at=T0)),
    ]


def _replay(order: list[int]) -> tuple[dict[date, dict[str, int]], int]:
    world = LevelWorld.create(T0 - DAY)
    world.join("A")
    world.set_levels(*LEVELS)
    events = _events()
    for position in order:
        event_id, fact = events[position]
        world.send(event_id, fact, at=T0 + 3 * DAY)
    world.run_job(at=T0 + 30 * DAY)
    return world.days("A"), world.rank("A")


BASELINE = _replay(list(range(len(_events()))))


@settings(max_examples=40, deadline=None)
@given(st.permutations(range(len(_events()))), st.lists(st.integers(0, len(_events()) - 1), max_size=6))
def test_figures_and_level_are_a_function_of_the_history_whatever_the_order_and_repeats(
    order: list[int], repeats: list[int]
) -> None:
    arrival = list(order)
    for n, position in enumerate(repeats):
        arrival.insert((n * 7) % (len(arrival) + 1), position)
    assert _replay(arrival) == BASELINE


def test_the_baseline_of_the_property_counts_every_metric() -> None:
    days, rank = BASELINE
    totals: dict[str, int] = {}
    for amounts in days.values():
        for key, n in amounts.items():
            totals[key] = totals.get(key, 0) + n
    assert totals == {
        "bound_customers": 1,
        "paid_orders": 2,
        "received_fen": 12_000,
        "deal_orders": 2,
        "deal_fen": 9_000,
        "consumption_fen": 2_000,
        "bought:gift": 1,
        "invited_members": 1,
        "recharge_fen": 700,
    }
    assert rank == 3
