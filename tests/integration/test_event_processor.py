"""Queued events → order aggregate with partial batch failures, on moto."""

import json
from typing import Any

from infra.local.poller import sqs_event
from tests.conftest import StackHandle
from tests.support import order_completed, order_paid, order_refunded, webhook_event


def _accept(stack: StackHandle, *bodies: dict[str, Any]) -> None:
    for body in bodies:
        assert stack.invoke("OrderWebhookFunction", webhook_event(body))["statusCode"] == 202


def test_a_paid_order_is_stored_with_its_lines(stack: StackHandle) -> None:
    _accept(stack, order_paid("O-1", paid_fen=12_300))
    [answer] = stack.process_queue()
    assert answer == {"batchItemFailures": []}
    order = stack.order("O-1")
    assert order is not None
    assert order["status"] == "paid" and order["paid_fen"] == 12_300
    assert order["doc"]["applied_event_ids"] == ["paid-O-1"]


def test_refund_and_completion_before_payment_are_held_then_applied(stack: StackHandle) -> None:
    _accept(stack, order_refunded("O-2", "R-1", 2_000), order_completed("O-2", "2026-11-20T10:00:00+08:00"))
    stack.process_queue()
    held = stack.order("O-2")
    assert held is not None and held["status"] == "awaiting_payment" and "gsi4pk" not in held
    _accept(stack, order_paid("O-2", paid_fen=10_000))
    stack.process_queue()
    order = stack.order("O-2")
    assert order is not None
    assert order["status"] == "completed"
    assert order["refunded_fen"] == 2_000
    assert order["gsi4sk"].startswith("2026-11-27T02:00:00.000Z#")


def test_a_poison_record_fails_alone(stack: StackHandle) -> None:
    _accept(stack, order_paid("O-3"))
    [good] = stack.drain()
    poison = dict(good, MessageId="poison-1", Body="{not json")
    arn = stack.resolver.attributes[("EventsQueue", "Arn")]
    answer = stack.invoke("EventProcessorFunction", sqs_event([poison, good], arn, "ap-southeast-1"))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "poison-1"}]}
    assert stack.order("O-3")["status"] == "paid"  # type: ignore[index]


def test_a_redelivered_batch_applies_nothing_twice(stack: StackHandle) -> None:
    _accept(stack, order_paid("O-4"), order_refunded("O-4", "R-1", 1_000))
    messages = stack.drain()
    arn = stack.resolver.attributes[("EventsQueue", "Arn")]
    for _ in range(3):
        stack.invoke("EventProcessorFunction", sqs_event(messages, arn, "ap-southeast-1"))
    order = stack.order("O-4")
    assert order is not None
    assert order["refunded_fen"] == 1_000
    assert order["version"] == 2


def test_an_unconsumed_event_type_is_acknowledged(stack: StackHandle) -> None:
    body = order_paid()
    body.update(
        type="customer.behavior",
        event_id="beh-1",
        data={"customer_id": "c-1", "behavior": "store_visit", "occurred_at": body["occurred_at"]},
    )
    _accept(stack, body)
    assert stack.process_queue() == [{"batchItemFailures": []}]
    assert json.loads(next(i for i in stack.table_items() if i["pk"].endswith("beh-1"))["body"])["type"] == (
        "customer.behavior"
    )
