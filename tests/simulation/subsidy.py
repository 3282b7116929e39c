"""The subsidy side of the simulation (seed 004): WeChat Store orders with several scene signals,
late signals, cheating flags, and the hourly job closing after-sales windows, all through the
product's dispatch under the world's table faults.

The oracle's checks on the subsidy book: each order's subsidy is posted once (one fee saving
and one growth card at most), never on an order whose after-sales window has not closed, a
clawback reverses an entry of the same order for the same amount, and each campaign account's
balance is the sum of its entries.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from incentives.ledger.model import Entry, SubsidyEntryKind, fold_subsidy
from incentives.messages.queued import QueuedEvent
from incentives.orders.aggregate import OrderStatus
from incentives.orders.service import emit_window_closed_events
from incentives.storage.orders import TableOrderRepository
from incentives.storage.subsidy import TableSubsidyRepository
from incentives.subsidy.campaign import CampaignTerms
from incentives.subsidy.computation import campaign_account
from incentives.webhook.models import (
    OrderFlagged,
    OrderLine,
    OrderPaid,
    OrderSource,
    OrderSourceUpdated,
    SceneSignal,
    Shop,
    SourceSignals,
)

if TYPE_CHECKING:
    from tests.simulation.world import World

CAMPAIGN = "sim-campaign"
KINDS = ("promoter", "wecom_share", "mini_program", "official_account", "live_reservation", "ad", "live")
CATEGORIES = (["美妆"], ["服饰", "女装"], ["文玩"], ["珠宝首饰", "黄金"], ["珠宝首饰", "钻石"])
WINDOW = timedelta(days=7)


def setup(world: World) -> None:
    terms = CampaignTerms.model_validate(
        {
            "name": "模拟私域激励",
            "starts_on": (world.now - timedelta(days=1)).date().isoformat(),
            "ends_on": (world.now + timedelta(days=400)).date().isoformat(),
            "enrolment": {
                "signed_up_on": (world.now - timedelta(days=1)).date().isoformat(),
                "rating_at_sign_up": 4.8,
            },
            "standard_rate_ppm_by_category": {"服饰": 60_000},
        }
    )
    repository(world).create_campaign(world.corp, CAMPAIGN, terms, world.now, "sim")


def repository(world: World) -> TableSubsidyRepository:
    return TableSubsidyRepository(world.table, "Asia/Shanghai")


def _signals(world: World) -> list[SceneSignal]:
    rng = world.rng
    kinds = rng.sample(KINDS, rng.randint(1, 3))
    return [
        SceneSignal.model_validate(
            {
                "kind": kind,
                **({"video_account_id": "finder-live"} if kind in ("live", "live_reservation") else {}),
            }
        )
        for kind in kinds
    ]


def store_order(world: World) -> Any:
    """A WeChat Store order paid now (sent later, as the affiliate side's payments are)."""
    from tests.simulation import affiliates

    rng = world.rng
    order_id = world._id("WXS-")
    order = OrderPaid(
        order_id=order_id,
        customer_id=rng.choice(affiliates.CUSTOMERS),
        store_id="wxstore-1",
        paid_at=world.now,
        channel="wechat_store",
        source=OrderSource(signals=_signals(world)),
        shop=Shop(rating=4.8, local_life=rng.random() < 0.1, admin_account_id="finder-admin"),
        lines=[
            OrderLine(
                line_id=f"L{n}",
                product_id="sku-1",
                category_path=rng.choice(CATEGORIES),
                quantity=1,
                payable_fen=(paid := rng.randint(1, 50_000)),
                paid_fen=paid,
                discount_fen=0,
                points_fen=0,
                balance_fen=0,
            )
            for n in range(rng.randint(1, 2))
        ],
    )
    world.history.orders[order_id] = order
    return f"store order {order_id}: " + affiliates.send(world, f"paid-{order_id}", "order.paid", order)


def _store_orders(world: World) -> list[str]:
    return sorted(
        order_id for order_id, order in world.history.orders.items() if getattr(order, "channel", None)
    )


def source_update(world: World) -> str:
    orders = _store_orders(world)
    if not orders:
        return "source update: no store orders"
    order_id = world.rng.choice(orders)
    fact = OrderSourceUpdated(
        order_id=order_id,
        updated_at=world.now,
        source=SourceSignals(signals=_signals(world)),
        reason="parsed",
    )
    return f"source of {order_id}: " + world.deliver(
        world._id("source-"), "order.source_updated", fact, until_applied=True
    )


def flag(world: World) -> str:
    orders = _store_orders(world)
    if not orders:
        return "flag: no store orders"
    order_id = world.rng.choice(orders)
    by = world.rng.choice(["merchant", "platform"])
    fact = OrderFlagged(order_id=order_id, flagged_at=world.now, flagged_by=by, reason="刷单")
    return f"flag {order_id}: " + world.deliver(
        f"flag-{order_id}-{by}", "order.flagged", fact, until_applied=True
    )


def store_complete(world: World) -> str:
    """The buyer of a store order confirms receipt: its after-sales window starts."""
    from incentives.webhook.models import OrderCompleted
    from tests.simulation import affiliates

    orders = _store_orders(world)
    if not orders:
        return "store complete: no store orders"
    order_id = world.rng.choice(orders)
    fact = OrderCompleted(order_id=order_id, completed_at=world.now)
    world.history.completions.setdefault(order_id, []).append(world.now)
    return f"complete {order_id}: " + affiliates.send(
        world, f"completed-{order_id}-{world.counter}", "order.completed", fact
    )


def close_windows(world: World) -> str:
    """The hourly job: window-closed events for orders past their window, through the backbone."""
    emitted: list[QueuedEvent] = []

    class Capture:
        def send(self, events: Any) -> None:
            emitted.extend(events)

    emit_window_closed_events(TableOrderRepository(world.table), Capture(), world.now)
    details = []
    for queued in emitted:
        event = queued.event
        details.append(
            world.deliver(event.event_id, event.type, event.data, until_applied=True, corp=queued.corp_id)
        )
    return f"closed {len(emitted)} windows" + (f": {details[0]}" if details else "")


def drain(world: World) -> None:
    close_windows(world)
    if world.rng.random() < 0.5:  # cheating found after settlement: a clawback
        flag(world)


CHANCE = 0.25
"""How often a step brings a WeChat Store event as well."""
OPERATIONS = (
    ("store_order", 4),
    ("store_complete", 3),
    ("source_update", 1),
    ("flag", 1),
    ("close_windows", 3),
)


# --- the oracle's checks on the subsidy book ------------------------------------------------------


def _entries(world: World) -> list[Entry]:
    return world.ledger.entries(campaign_account(world.corp, CAMPAIGN))


def subsidy_posted_once_on_settled_orders(world: World) -> list[str]:
    """Each order's subsidy once, never before its window closed; clawbacks mirror their entry."""
    problems: list[str] = []
    entries = _entries(world)
    by_id = {entry.entry_id: entry for entry in entries}
    seen: dict[tuple[str, SubsidyEntryKind], str] = {}
    orders = TableOrderRepository(world.table)
    for entry in entries:
        kind = SubsidyEntryKind(entry.kind)
        if kind in (SubsidyEntryKind.FEE_SAVING, SubsidyEntryKind.GROWTH_CARD):
            order_id = entry.ref
            if (order_id, kind) in seen:
                problems.append(
                    f"order {order_id}: {kind.value} posted twice ({seen[order_id, kind]}, {entry.entry_id})"
                )
            seen[order_id, kind] = entry.entry_id
            state = orders.get(world.corp, order_id)
            completed = world.history.completions.get(order_id)
            if state is None or state.status is not OrderStatus.CLOSED:
                status = state.status.value if state else "unknown"
                problems.append(
                    f"{entry.entry_id} posted on order {order_id}, which is {status}, not settled"
                )
            elif not completed or entry.at < min(completed) + WINDOW:
                problems.append(f"{entry.entry_id} posted at {entry.at}, before the window closed")
        else:
            original = by_id.get(entry.ref)
            if original is None or original.amount_fen != entry.amount_fen:
                problems.append(f"{entry.entry_id} reverses {entry.ref}, which it does not mirror")
    balance = world.ledger.subsidy_balance(campaign_account(world.corp, CAMPAIGN))
    if balance != fold_subsidy(entries):
        problems.append(f"subsidy balance {dict(balance.buckets)} is not the sum of its entries")
    problems.extend(f"subsidy book: {problem}" for problem in balance.violations())
    return problems
