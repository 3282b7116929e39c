"""A click that arrives after the order it led to (SPEC §4.4 "Binding"): the customer's orders
paid after the click and decided with nobody bound are decided again, now that the binding at
their payment is known."""

from __future__ import annotations

from datetime import datetime

from incentives.affiliates.attribution import attribute, decision_changes
from incentives.affiliates.commission import decide
from incentives.affiliates.lifecycle import follow_order
from incentives.affiliates.ports import Earnings, Stale
from incentives.affiliates.program import ProgramSettings
from incentives.core.clock import parse_instant


def attribute_late_click(
    ports: Earnings, corp_id: str, customer_id: str, clicked_at: datetime, now: datetime
) -> list[str]:
    """Orders of ``customer_id`` paid after ``clicked_at`` that were decided with nobody bound
    (the click arrived late) are decided again, now that the binding at their payment is known.

    Only such orders: they carry no share, so nothing is taken back. Returns the orders attributed.

    The new decision and the order's later refunds or completion are two steps: a crash between
    them leaves the order attributed but not followed, and the redelivered click finds nothing
    unattributed. So every order a late click attributed (listed on its decision) is followed
    again here: following is idempotent, and a click on a customer with such orders is rare.
    """
    affiliates = ports.affiliates
    attributed = []
    unattributed = affiliates.unattributed(corp_id, customer_id)
    candidates = [old for old in unattributed if parse_instant(old["paid_at"]) >= clicked_at]
    settings = affiliates.settings(corp_id) if candidates else ProgramSettings()
    for old in candidates:
        state = ports.orders.get(corp_id, old["order_id"])
        if state is None or state.paid is None:
            continue
        buyer, bound, upline = attribute(affiliates, corp_id, settings, state.paid)
        decision = decide(settings, state.paid, buyer=buyer, bound=bound, upline=upline)
        if decision.awaits_binding:
            continue
        changes = decision_changes(
            ports, corp_id, state.paid, decision, now, replaces=old, buyer=buyer, earner=buyer or bound
        )
        try:
            affiliates.commit(corp_id, changes)
        except Stale:
            continue  # decided again meanwhile
        follow_order(ports, corp_id, state, now)  # refunds or a completion that came meanwhile
        attributed.append(state.order_id)
    for earlier in affiliates.late_attributed(corp_id, customer_id):
        if earlier["order_id"] in attributed or parse_instant(earlier["paid_at"]) < clicked_at:
            continue
        state = ports.orders.get(corp_id, earlier["order_id"])
        if state is not None and state.paid is not None:
            follow_order(ports, corp_id, state, now)  # a step a crash may have cut short
    return attributed
