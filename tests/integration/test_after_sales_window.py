"""The hourly job closes after-sales windows that have passed; the clock is the scheduled event's time."""

from datetime import UTC, datetime

from tests.conftest import StackHandle
from tests.support import order_completed, order_paid, webhook_event


def _fire(stack: StackHandle, at: datetime) -> dict[str, object]:
    result: dict[str, object] = stack.fire("AfterSalesWindowFunction", at)
    return result


def _completed_order(stack: StackHandle, order_id: str, completed_at: str) -> None:
    for body in (order_paid(order_id), order_completed(order_id, completed_at)):
        assert stack.invoke("OrderWebhookFunction", webhook_event(body))["statusCode"] == 202
    stack.process_queue()


def test_an_order_closes_after_completion_plus_the_window(stack: StackHandle) -> None:
    _completed_order(stack, "O-1", "2026-11-20T10:00:00+08:00")  # window closes 2026-11-27T02:00Z
    assert _fire(stack, datetime(2026, 11, 27, 1, 59, tzinfo=UTC))["emitted"] == 0
    assert _fire(stack, datetime(2026, 11, 27, 2, 0, tzinfo=UTC))["emitted"] == 1
    stack.process_queue()
    order = stack.order("O-1")
    assert order is not None and order["status"] == "closed"
    assert "gsi1pk" not in order
    assert _fire(stack, datetime(2026, 11, 28, tzinfo=UTC))["emitted"] == 0


def test_only_orders_past_their_window_are_emitted(stack: StackHandle) -> None:
    _completed_order(stack, "O-early", "2026-11-01T10:00:00+08:00")
    _completed_order(stack, "O-late", "2026-11-25T10:00:00+08:00")
    assert stack.invoke("OrderWebhookFunction", webhook_event(order_paid("O-open")))["statusCode"] == 202
    stack.process_queue()
    assert _fire(stack, datetime(2026, 11, 24, tzinfo=UTC))["emitted"] == 1
    stack.process_queue()
    assert stack.order("O-early")["status"] == "closed"  # type: ignore[index]
    assert stack.order("O-late")["status"] == "completed"  # type: ignore[index]
    assert stack.order("O-open")["status"] == "paid"  # type: ignore[index]


def test_a_window_closed_event_emitted_twice_counts_once(stack: StackHandle) -> None:
    _completed_order(stack, "O-2", "2026-11-01T10:00:00+08:00")
    at = datetime(2026, 11, 24, tzinfo=UTC)
    assert _fire(stack, at)["emitted"] == 1
    assert _fire(stack, at)["emitted"] == 1  # not applied yet: emitted again, harmlessly
    stack.process_queue()
    order = stack.order("O-2")
    assert order is not None and order["status"] == "closed" and order["version"] == 3
