"""The order aggregate: any arrival order, any duplication, one outcome (SPEC §3.2, §5)."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from incentives.messages.internal import AfterSalesWindowClosed
from incentives.orders.aggregate import AfterSalesWindow, OrderState, OrderStatus, apply_fact
from incentives.webhook.models import OrderCompleted, OrderPaid, OrderRefunded
from tests.support import order_completed, order_paid, order_refunded

WINDOW = AfterSalesWindow(days=7)
COMPLETED_AT = "2026-11-20T10:00:00+08:00"


def _paid(order_id: str = "O-1", paid_fen: int = 10_000) -> OrderPaid:
    return OrderPaid.model_validate(order_paid(order_id, paid_fen=paid_fen)["data"])


def _refund(refund_id: str, fen: int, order_id: str = "O-1") -> OrderRefunded:
    return OrderRefunded.model_validate(order_refunded(order_id, refund_id, fen)["data"])


def _completed(order_id: str = "O-1") -> OrderCompleted:
    return OrderCompleted.model_validate(order_completed(order_id, COMPLETED_AT)["data"])


def _fold(events: list[tuple[str, object]]) -> OrderState:
    state = OrderState(corp_id="ww-1", order_id="O-1")
    for event_id, fact in events:
        state = apply_fact(state, event_id, fact, WINDOW)  # type: ignore[arg-type]
    return state


def _outcome(state: OrderState) -> tuple[object, ...]:
    return (
        state.status,
        state.paid,
        dict(state.refunds),
        state.completed,
        state.window_closes_at,
        state.refunded_fen_by_line(),
        state.applied_event_ids,
    )


def test_a_refund_before_the_payment_is_held_then_applied() -> None:
    held = _fold([("r1", _refund("R1", 2_000))])
    assert held.status is OrderStatus.AWAITING_PAYMENT
    assert held.held_event_count == 1
    assert held.refunded_fen_by_line() == {}
    applied = apply_fact(held, "p1", _paid(), WINDOW)
    assert applied.refunded_fen_by_line() == {"L1": 2_000}
    assert applied.held_event_count == 0


def test_a_completion_before_the_payment_is_held_then_starts_the_window() -> None:
    held = _fold([("c1", _completed())])
    assert held.status is OrderStatus.AWAITING_PAYMENT
    assert not held.awaits_window_close
    applied = apply_fact(held, "p1", _paid(), WINDOW)
    assert applied.status is OrderStatus.COMPLETED
    assert applied.window_closes_at == datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    assert applied.awaits_window_close


def test_the_same_event_twice_changes_nothing_the_second_time() -> None:
    once = _fold([("p1", _paid())])
    assert apply_fact(once, "p1", _paid(), WINDOW) is once


def test_a_second_payment_of_the_same_order_is_recorded_but_ignored() -> None:
    state = _fold([("p1", _paid(paid_fen=10_000)), ("p2", _paid(paid_fen=99_999))])
    assert state.paid_fen == 10_000
    assert "p2" in state.applied_event_ids


def test_a_refund_is_counted_once_even_under_another_event_id() -> None:
    state = _fold([("p1", _paid()), ("r1", _refund("R1", 2_000)), ("r1-resent", _refund("R1", 2_000))])
    assert state.refunded_fen == 2_000


def test_the_window_closes_only_once_it_has_passed() -> None:
    completed = _fold([("p1", _paid()), ("c1", _completed())])
    assert completed.window_closes_at is not None
    early = AfterSalesWindowClosed(
        order_id="O-1", closed_at=completed.window_closes_at - timedelta(seconds=1)
    )
    assert apply_fact(completed, "w-early", early, WINDOW).status is OrderStatus.COMPLETED
    on_time = AfterSalesWindowClosed(order_id="O-1", closed_at=completed.window_closes_at)
    closed = apply_fact(completed, "w", on_time, WINDOW)
    assert closed.status is OrderStatus.CLOSED
    assert not closed.awaits_window_close


def test_a_refund_after_the_window_still_counts() -> None:
    completed = _fold([("p1", _paid()), ("c1", _completed())])
    assert completed.window_closes_at is not None
    closed = apply_fact(
        completed, "w", AfterSalesWindowClosed(order_id="O-1", closed_at=completed.window_closes_at), WINDOW
    )
    later = apply_fact(closed, "r9", _refund("R9", 8_000), WINDOW)
    assert later.status is OrderStatus.CLOSED
    assert later.refunded_fen == 8_000


def test_an_over_refund_is_capped_and_reported() -> None:
    state = _fold(
        [("p1", _paid(paid_fen=10_000)), ("r1", _refund("R1", 7_000)), ("r2", _refund("R2", 7_000))]
    )
    assert state.refunded_fen_by_line() == {"L1": 10_000}
    assert state.anomalies() == ["line L1 refunded 14000 fen of 10000 paid"]


def test_the_window_length_is_a_setting() -> None:
    state = apply_fact(_fold([("p1", _paid())]), "c1", _completed(), AfterSalesWindow(days=15))
    assert state.window_closes_at == datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


EVENTS = [
    ("p1", _paid()),
    ("r1", _refund("R1", 1_500)),
    ("r2", _refund("R2", 2_500)),
    ("c1", _completed()),
]


@settings(max_examples=200)
@given(st.permutations(EVENTS), st.lists(st.sampled_from(EVENTS), max_size=6), st.randoms())
def test_any_arrival_order_with_any_duplicates_gives_the_same_order(
    order: list[tuple[str, object]], duplicates: list[tuple[str, object]], shuffle: object
) -> None:
    stream = list(order) + duplicates
    shuffle.shuffle(stream)  # type: ignore[attr-defined]
    assert _outcome(_fold(stream)) == _outcome(_fold(EVENTS))
