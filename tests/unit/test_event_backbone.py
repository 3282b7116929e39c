"""The event backbone's dispatch: consumers subscribe per event type (docs/decisions.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from incentives.events.dispatch import KEPT, Consumers, Delivery, apply_queued_event
from incentives.messages.queued import QUEUED_EVENT_TYPES, QueuedEvent
from incentives.webhook.models import WEBHOOK_EVENT_TYPES

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _queued(event_type: str, data: dict[str, object]) -> QueuedEvent:
    return QueuedEvent.model_validate(
        {
            "corp_id": "ww-1",
            "received_at": NOW.isoformat(),
            "event": {"event_id": "e-1", "type": event_type, "occurred_at": NOW.isoformat(), "data": data},
        }
    )


COMPLETED = {"order_id": "SO-1", "completed_at": NOW.isoformat()}


def test_an_event_goes_to_the_consumers_of_its_type_in_the_order_they_subscribed() -> None:
    seen: list[str] = []

    def first(delivery: Delivery) -> str:
        seen.append(f"first {delivery.event_id} {delivery.data.order_id}")
        return "one"

    def second(delivery: Delivery) -> str:
        seen.append(f"second {delivery.corp_id} {delivery.received_at.isoformat()}")
        return "two"

    consumers = Consumers()
    consumers.subscribe("order.completed", "orders", first)
    consumers.subscribe("order.completed", "subsidy", second)
    consumers.subscribe("order.refunded", "other", lambda delivery: "never")

    outcome = apply_queued_event(_queued("order.completed", COMPLETED), consumers)

    assert seen == ["first e-1 SO-1", f"second ww-1 {NOW.isoformat()}"]
    assert (outcome.consumer, outcome.detail) == ("orders, subsidy", "one; two")


def test_an_event_nobody_consumes_is_kept() -> None:
    outcome = apply_queued_event(_queued("order.completed", COMPLETED), Consumers())
    assert (outcome.event_type, outcome.consumer, outcome.detail) == ("order.completed", None, KEPT)


def test_a_consumer_with_nothing_to_do_answers_none_and_counts_as_absent() -> None:
    consumers = Consumers()
    consumers.subscribe("order.completed", "guides", lambda delivery: None)
    assert apply_queued_event(_queued("order.completed", COMPLETED), consumers).consumer is None


def test_a_consumer_that_fails_stops_the_rest_so_the_redelivery_runs_them() -> None:
    ran: list[str] = []

    def failing(delivery: Delivery) -> str:
        raise RuntimeError("table unavailable")

    consumers = Consumers()

    def later(delivery: Delivery) -> str:
        ran.append("subsidy")
        return "x"

    consumers = Consumers()
    consumers.subscribe("order.completed", "orders", failing)
    consumers.subscribe("order.completed", "subsidy", later)
    with pytest.raises(RuntimeError):
        apply_queued_event(_queued("order.completed", COMPLETED), consumers)
    assert ran == []


def test_only_a_type_the_queue_carries_can_be_subscribed() -> None:
    with pytest.raises(ValueError, match=r"order\.shipped"):
        Consumers().subscribe("order.shipped", "orders", lambda delivery: "x")


def test_the_queue_carries_every_webhook_type_and_the_internal_ones() -> None:
    assert set(WEBHOOK_EVENT_TYPES) < set(QUEUED_EVENT_TYPES)
    assert set(QUEUED_EVENT_TYPES) - set(WEBHOOK_EVENT_TYPES) == {
        "order.after_sales_window_closed",
        "wecom.callback",
        "guide.customer_acquired",
        "org.sync_requested",
    }
