"""A second tenant whose affiliate levels run on time-driven rules (seed 001 §2.3.3 (1)–(5)).

Its levels use N-day windows, ``cycle`` and ``single`` downgrades (to the level below or a named
one, stacked with the threshold check), retention over the days before the trigger, and, at the
first drain, a rule change with ``recalculate`` or ``keep`` (quotas). Customers buy, get refunds and
complete orders; the world's clock crosses cycle ends and single-check days, and the level job runs
at the start of every local day (``World.advance``), as the per-minute job would.

The oracle (``oracle.timed_levels_match_history``) replays this tenant's log — its events with
their instants, the job's runs, the rule change — and recomputes every level from the seed's rules.
For that the log must say when each figure became known: this tenant's events and the job's runs
are delivered without table faults (decision 92: under faults that instant is not in the history;
the first tenant's level checks cover faults on the same code). Every order is a bound customer's,
and the after-sales window is 0 days, so a completed order's deal figures count at its completion.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from incentives.affiliates.program import ProgramSettings
from incentives.levels.service import run_assessment
from incentives.levels.service import save_settings as save_levels
from incentives.levels.settings import ChangeMode, LevelSettings
from incentives.storage.affiliates.membership import ApplicationInput, submit_application
from incentives.storage.affiliates.store import save_settings
from incentives.storage.levels import TableLevelRepository
from incentives.storage.orders import TableOrderRepository
from incentives.webhook.models import (
    OrderCompleted,
    OrderLine,
    OrderPaid,
    OrderRefunded,
    OrderSource,
    ReferralClicked,
    RefundLine,
)

if TYPE_CHECKING:
    from tests.simulation.world import World

CORP = "ww-sim-levels"
TZ = "Asia/Shanghai"
AFFILIATES = ("lv-A", "lv-B", "lv-C")
CUSTOMERS = {f"lc-{n}": affiliate for n, affiliate in enumerate(AFFILIATES)}
"""Each customer is bound (permanently, at the start) to one affiliate."""
RATE_BP = 1000
CHANCE = 0.3
"""How often a step brings an event of this tenant as well."""
WORLDS = 0.4
"""How many worlds have this tenant (the others run exactly as before it existed)."""

Entry = tuple[str, datetime, Any]
"""("event", when, fact) | ("run", when, None) | ("rules", when, (settings, mode))"""


@dataclass
class TimedLevels:
    rng: random.Random
    settings: LevelSettings
    log: list[Entry] = field(default_factory=list)
    """Everything that moved this tenant's levels, in the order it happened."""
    orders: dict[str, OrderPaid] = field(default_factory=dict)
    refunded: dict[str, dict[str, int]] = field(default_factory=dict)
    """order id → line id → refunded so far."""
    completed: set[str] = field(default_factory=set)
    rules_changed: bool = False
    counter: int = 0
    replay: dict[str, int] = field(default_factory=dict)
    """What the oracle's last replay saw happen (downgrades by check, retentions, quotas)."""


@contextlib.contextmanager
def fault_free(world: World) -> Iterator[None]:
    """This tenant's writes and the job's runs: no table fault (a pending one waits for the next
    write of the first tenant)."""
    pending, faulty = world.table.next_fault, world.faulty
    world.table.next_fault, world.faulty = None, False
    try:
        yield
    finally:
        world.table.next_fault, world.faulty = pending, faulty


def setup(world: World) -> TimedLevels | None:
    rng = random.Random(f"levels-{world.seed}")
    if rng.random() >= WORLDS:
        return None
    program = ProgramSettings.model_validate(
        {
            "promotion_enabled": True,
            "invitation_image_url": "https://img.example.com/invite.png",
            "commission_rate_bp": RATE_BP,
            "binding_mode": "permanent",
            "after_sales_window_days": 0,
            "application": {"mode": "apply", "review": "auto", "match": "none"},
        }
    )
    side = TimedLevels(rng, level_settings(rng))
    side.log.append(("rules", world.now, (side.settings, None)))
    with fault_free(world):
        save_settings(world.table, CORP, program, world.now)
        for affiliate in AFFILIATES:
            submit_application(
                world.table,
                CORP,
                affiliate,
                ApplicationInput(answers={}, openid=f"openid-{affiliate}", invited_by=None),
                world.now,
            )
        save_levels(TableLevelRepository(world.table), CORP, side.settings, world.now)
        for customer, affiliate in CUSTOMERS.items():
            click = ReferralClicked(customer_id=customer, affiliate_id=affiliate, clicked_at=world.now)
            _deliver(world, side, f"lv-click-{customer}", "referral.clicked", click)
    return side


def level_settings(rng: random.Random) -> LevelSettings:
    """Five levels (the third manual): each automatic one over an N-day window or unlimited, with a
    downgrade rule its period allows (unlimited: none / threshold / single; N days: also cycle), to
    the level below or a named one, and retention now and then."""

    def rule(position: int, period: int | None) -> dict[str, Any]:
        kinds = ["none", "threshold", "single", "single"] + (["cycle", "cycle"] if period else [])
        kind = rng.choice(kinds)
        found: dict[str, Any] = {"downgrade": {"kind": kind}}
        if kind == "single":
            found["downgrade"]["after_days"] = rng.choice([1, 2, 3, 5])
        if kind in ("single", "cycle") and rng.random() < 0.4:
            found["downgrade"]["to_rank"] = rng.randint(1, position - 1)
        if kind != "none" and rng.random() < 0.6:
            conditions = rng.choice(
                [
                    [("received_fen", rng.randint(100, 3_000))],
                    [("paid_orders", 1), ("deal_orders", 1)],
                    [("deal_fen", rng.randint(100, 2_000)), ("paid_orders", 2)],
                ]
            )
            found["retention"] = {
                "days": rng.randint(1, 6),
                "match": rng.choice(["any", "all"]),
                "conditions": [{"metric": m, "at_least": n} for m, n in conditions],
            }
        return found

    def level(name: str, position: int, match: str, conditions: list[tuple[str, int]]) -> dict[str, Any]:
        period = rng.choice([None, 3, 5, 10])
        return {
            "name": name,
            "period_days": period,
            "threshold": {
                "match": match,
                "conditions": [{"metric": metric, "at_least": n} for metric, n in conditions],
            },
            **rule(position, period),
        }

    paid = rng.randint(1, 2)
    return LevelSettings.model_validate(
        {
            "levels": [
                {"name": "普通"},
                level("铜牌", 2, "any", [("paid_orders", paid), ("received_fen", rng.randint(2_000, 6_000))]),
                {"name": "特邀", "strategy": "manual"},
                level(
                    "银牌", 4, "all", [("paid_orders", paid + 1), ("received_fen", rng.randint(3_000, 9_000))]
                ),
                level(
                    "金牌", 5, "any", [("paid_orders", paid + 3), ("deal_fen", rng.randint(3_000, 12_000))]
                ),
            ]
        }
    )


def _deliver(world: World, side: TimedLevels, event_id: str, kind: str, fact: Any) -> str:
    with fault_free(world):
        detail = world.deliver(event_id, kind, fact, until_applied=True, corp=CORP)
    side.log.append(("event", world.now, fact))
    return detail


def _id(side: TimedLevels, prefix: str) -> str:
    side.counter += 1
    return f"{prefix}{side.counter}"


def step(world: World) -> str:
    """Now and then a customer of this tenant pays, gets a refund or completes an order."""
    side: TimedLevels | None = world.timed_levels
    if side is None or side.rng.random() >= CHANCE:
        return ""
    kind = side.rng.choice(["pay", "pay", "pay", "refund", "complete", "complete"])
    return "; levels: " + {"pay": pay, "refund": refund, "complete": complete}[kind](world, side)


def pay(world: World, side: TimedLevels) -> str:
    rng = side.rng
    order = OrderPaid(
        order_id=_id(side, "LV-"),
        customer_id=rng.choice(sorted(CUSTOMERS)),
        store_id="store-1",
        paid_at=world.now,
        source=OrderSource(scene="share"),
        lines=[
            OrderLine(
                line_id=f"L{n}",
                product_id="sku-1",
                category_path=["服饰"],
                quantity=1,
                payable_fen=(paid := rng.randint(100, 5_000)),
                paid_fen=paid,
                discount_fen=0,
                points_fen=0,
                balance_fen=0,
            )
            for n in range(rng.randint(1, 2))
        ],
    )
    side.orders[order.order_id] = order
    detail = _deliver(world, side, f"lv-paid-{order.order_id}", "order.paid", order)
    run_job(world)  # the payment leaves its assessments owed to the job (decision 87): its next minute
    return f"paid {order.order_id}: {detail}"


def refund(world: World, side: TimedLevels) -> str:
    if not side.orders:
        return "refund: no orders"
    order = side.orders[side.rng.choice(sorted(side.orders))]
    line = side.rng.choice(order.lines)
    done = side.refunded.setdefault(order.order_id, {})
    left = line.paid_fen - done.get(line.line_id, 0)
    if left <= 0:
        return f"refund {order.order_id}: line {line.line_id} fully refunded"
    fen = left if side.rng.random() < 0.4 else side.rng.randint(1, left)
    done[line.line_id] = done.get(line.line_id, 0) + fen
    fact = OrderRefunded(
        order_id=order.order_id,
        refund_id=_id(side, "LR"),
        refunded_at=world.now,
        lines=[RefundLine(line_id=line.line_id, refund_fen=fen)],
    )
    return f"refund {fen} of {order.order_id}: " + _deliver(
        world, side, f"lv-refund-{fact.refund_id}", "order.refunded", fact
    )


def complete(world: World, side: TimedLevels) -> str:
    waiting = sorted(set(side.orders) - side.completed)
    if not waiting:
        return "complete: no order to complete"
    order_id = side.rng.choice(waiting)
    side.completed.add(order_id)
    fact = OrderCompleted(order_id=order_id, completed_at=world.now)
    return f"completed {order_id}: " + _deliver(
        world, side, f"lv-completed-{order_id}", "order.completed", fact
    )


def run_job(world: World) -> None:
    """The level job's run here and now (every tenant's due checks, deal figures, re-levels)."""
    with fault_free(world):
        run_assessment(TableLevelRepository(world.table), TableOrderRepository(world.table), world.now, TZ)
    world.timed_levels.log.append(("run", world.now, None))


def change_rules(world: World) -> str:
    """At the first drain the merchant changes this tenant's thresholds once (paid orders always),
    and everyone is recalculated or keeps their level with quotas; the job follows at once."""
    side: TimedLevels | None = world.timed_levels
    if side is None:
        return "levels (timed): no such tenant in this world"
    if side.rules_changed:
        return "levels (timed): rules already changed"
    rng = side.rng
    mode = rng.choice([ChangeMode.RECALCULATE, ChangeMode.KEEP])
    shift = {
        "paid_orders": rng.randint(1, 3),
        "received_fen": rng.randint(-2_000, 4_000),
        "deal_fen": rng.randint(-2_000, 4_000),
    }
    document = side.settings.model_dump(mode="json")
    for level in document["levels"]:
        for condition in (level.get("threshold") or {}).get("conditions", []):
            condition["at_least"] = max(1, condition["at_least"] + shift.get(condition["metric"], 0))
    side.settings, side.rules_changed = LevelSettings.model_validate(document), True
    with fault_free(world):
        save_levels(TableLevelRepository(world.table), CORP, side.settings, world.now, on_change=mode)
    side.log.append(("rules", world.now, (side.settings, mode)))
    run_job(world)
    return f"levels (timed): rules changed, {mode.value}"
