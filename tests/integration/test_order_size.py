"""Orders of any size within DynamoDB's item limits: a 2,000-line order and 20 full refunds are
applied by the event processor on the embedded endpoint, exactly once, and no item passes 400 KB."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from infra.local.poller import sqs_event
from tests.conftest import StackHandle
from tests.support.large_orders import large_order, total_paid

CORP = "ww-local-corp"
LINES = 2_000
REFUNDS = 20
PAID_AT = datetime(2026, 11, 11, 0, 5, tzinfo=UTC)


def _apply(stack: StackHandle, messages: list[dict[str, Any]]) -> None:
    arn = stack.resolver.attributes[("EventsQueue", "Arn")]
    answer = stack.invoke("EventProcessorFunction", sqs_event(messages, arn, stack.config.region))
    assert answer == {"batchItemFailures": []}


def test_a_two_thousand_line_order_takes_twenty_full_refunds(stack: StackHandle) -> None:
    from incentives.storage.table import MAX_ITEM_BYTES, item_size

    paid, *refunds = large_order(CORP, "O-big", LINES, REFUNDS, PAID_AT)
    _apply(stack, [paid])
    _apply(stack, refunds[:10])
    _apply(stack, refunds)  # the first ten again, with the rest: each applied once

    order = stack.order("O-big")
    assert order is not None
    assert order["paid_fen"] == total_paid(LINES)
    assert order["refunded_fen"] == total_paid(LINES)
    assert order["version"] == 1 + REFUNDS
    assert len(order["doc"]["applied_event_ids"]) == 1 + REFUNDS
    partition = [item for item in stack.table_items() if item["pk"] == f"T#{CORP}#ORDER#O-big"]
    assert len(partition) > 2  # the head and its parts
    assert max(item_size(item) for item in partition) <= MAX_ITEM_BYTES

    from incentives.runtime import wiring

    wiring.reset()
    state = wiring.order_repository().get(CORP, "O-big")
    assert state is not None and state.paid is not None
    assert len(state.paid.lines) == LINES and len(state.refunds) == REFUNDS
    assert state.refunded_fen == total_paid(LINES) and state.anomalies() == []
