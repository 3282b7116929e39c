"""Applying order events to subsidy cases, exactly once in effect, through the ports.

Each call reads the case, folds the event in (:mod:`incentives.subsidy.case`) and saves the
case with the entries it yields in one conditional transaction; a lost race re-reads. A repeat
of an event is recognised by its id and changes nothing; entry ids are deterministic, so even a
case written meanwhile can never post an order's subsidy twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from incentives.core.errors import ConcurrentModification
from incentives.orders.aggregate import OrderState
from incentives.subsidy import case as cases
from incentives.subsidy.case import Step, SubsidyCase
from incentives.subsidy.ports import SubsidyRepository
from incentives.webhook.models import OrderFlagged, OrderPaid, OrderSourceUpdated

MAX_WRITE_ATTEMPTS = 5


@dataclass(frozen=True)
class SubsidyPorts:
    repository: SubsidyRepository
    time_zone: str


def _apply(ports: SubsidyPorts, corp_id: str, order_id: str, fold: Callable[[SubsidyCase], Step]) -> str:
    for _ in range(MAX_WRITE_ATTEMPTS):
        current = ports.repository.case(corp_id, order_id) or SubsidyCase(corp_id, order_id)
        step = fold(current)
        if step.case is current:
            return step.detail
        try:
            ports.repository.save_case(step.case, current.version, step.entries)
        except ConcurrentModification:
            continue
        return step.detail
    raise ConcurrentModification(f"subsidy of order {order_id}: too many concurrent writers, retry later")


def on_payment(ports: SubsidyPorts, corp_id: str, event_id: str, order: OrderPaid) -> str:
    """A WeChat Store order was paid: keep its signals and attribute it provisionally."""
    if not order.is_wechat_store:
        return "not a WeChat Store order"
    campaigns = ports.repository.campaigns(corp_id)
    return _apply(
        ports,
        corp_id,
        order.order_id,
        lambda case: cases.record_payment(case, event_id, order, campaigns, ports.time_zone),
    )


def on_source_updated(ports: SubsidyPorts, corp_id: str, event_id: str, update: OrderSourceUpdated) -> str:
    """Late signals: re-attribute an order that has not settled yet, recording why."""
    campaigns = ports.repository.campaigns(corp_id)
    return _apply(
        ports,
        corp_id,
        update.order_id,
        lambda case: cases.record_source_update(case, event_id, update, campaigns, ports.time_zone),
    )


def on_window_closed(ports: SubsidyPorts, corp_id: str, event_id: str, state: OrderState) -> str:
    """The after-sales window closed: compute on the settled amount and post, once."""
    order, closed = state.paid, state.window_closed
    if order is None or closed is None or not order.is_wechat_store:
        return "not a settled WeChat Store order"
    campaigns = ports.repository.campaigns(corp_id)
    refunded = state.refunded_fen_by_line()
    return _apply(
        ports,
        corp_id,
        order.order_id,
        lambda case: cases.settle(
            case, event_id, order, refunded, campaigns, ports.time_zone, closed.closed_at
        ),
    )


def on_flagged(ports: SubsidyPorts, corp_id: str, event_id: str, flagged: OrderFlagged) -> str:
    """Cheating: claw the order's subsidy back (or make sure none is ever posted)."""
    return _apply(ports, corp_id, flagged.order_id, lambda case: cases.flag(case, event_id, flagged))
