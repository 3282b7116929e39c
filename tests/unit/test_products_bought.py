"""A paid order's products-bought markers: every distinct product once, in as few transactions as
DynamoDB's 100-item limit allows (a 2,000-product order in 20, not 80)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from incentives.affiliates.activity import products_bought
from incentives.storage.table import MAX_TRANSACTION_ITEMS
from incentives.webhook.models import OrderPaid
from tests.support.large_orders import large_order_events


def _order(lines: int) -> OrderPaid:
    [paid] = large_order_events("O-many", lines, 0, datetime(2026, 11, 11, tzinfo=UTC))
    return OrderPaid.model_validate(paid["data"])


def test_two_thousand_products_take_twenty_transactions() -> None:
    chunks = products_bought(_order(2_000))
    assert len(chunks) == 20
    assert all(len(chunk.product_ids) == MAX_TRANSACTION_ITEMS for chunk in chunks)


@given(st.integers(min_value=1, max_value=450))
def test_every_product_is_recorded_once_and_no_chunk_passes_a_transaction(lines: int) -> None:
    order = _order(lines)
    chunks = products_bought(order)
    recorded = [product for chunk in chunks for product in chunk.product_ids]
    assert sorted(recorded) == sorted({line.product_id for line in order.lines})
    assert all(0 < len(chunk.product_ids) <= MAX_TRANSACTION_ITEMS for chunk in chunks)
    assert len(chunks) == -(-len(recorded) // MAX_TRANSACTION_ITEMS)  # no more than needed
