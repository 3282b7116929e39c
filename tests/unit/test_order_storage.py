"""The order aggregate's storage: a small head, large facts in content-addressed parts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incentives.core.errors import ConcurrentModification
from incentives.orders.aggregate import AfterSalesWindow, apply_fact
from incentives.orders.service import apply_order_event
from incentives.storage import keys, orders
from incentives.storage.memory_table import MemoryTable
from incentives.storage.orders import PART_PREFIX, TableOrderRepository
from incentives.storage.table import MAX_ITEM_BYTES, Put, item_size
from incentives.webhook.models import OrderLine, OrderPaid, OrderRefunded, OrderSource, RefundLine

CORP, WINDOW = "corp-1", AfterSalesWindow()
PAID_AT = datetime(2026, 11, 11, tzinfo=UTC)


def _paid(order_id: str, lines: int, category: tuple[str, ...] = ("服饰",)) -> OrderPaid:
    return OrderPaid(
        order_id=order_id,
        customer_id="c-1",
        store_id="s-1",
        paid_at=PAID_AT,
        source=OrderSource(scene="direct"),
        lines=[
            OrderLine(
                line_id=f"L{i:05d}",
                product_id=f"sku-{i:05d}",
                category_path=list(category),
                quantity=1,
                payable_fen=100,
                paid_fen=100,
                discount_fen=0,
                points_fen=0,
                balance_fen=0,
            )
            for i in range(lines)
        ],
    )


def _refund(order_id: str, refund_id: str, line_ids: list[str]) -> OrderRefunded:
    return OrderRefunded(
        order_id=order_id,
        refund_id=refund_id,
        refunded_at=PAID_AT + timedelta(days=1),
        lines=[RefundLine(line_id=line_id, refund_fen=100) for line_id in line_ids],
    )


def _partition(table: MemoryTable, order_id: str) -> list[dict[str, object]]:
    pk = keys.order_key(CORP, order_id)["pk"]
    return [item for (p, _), item in table.items.items() if p == pk]


def test_a_small_order_is_one_item() -> None:
    table = MemoryTable()
    apply_order_event(TableOrderRepository(table), CORP, "e-1", _paid("O-1", 3), WINDOW)
    assert [item["sk"] for item in _partition(table, "O-1")] == ["STATE"]


def test_a_large_order_keeps_every_item_under_the_limit_and_reads_back_whole() -> None:
    table, order = MemoryTable(), _paid("O-2", 3_000)
    repository = TableOrderRepository(table)
    apply_order_event(repository, CORP, "e-1", order, WINDOW)
    line_ids = [line.line_id for line in order.lines]
    for number in range(5):
        apply_order_event(repository, CORP, f"r-{number}", _refund("O-2", f"R{number}", line_ids), WINDOW)
    items = _partition(table, "O-2")
    assert len(items) > 2 and max(item_size(item) for item in items) <= MAX_ITEM_BYTES
    state = TableOrderRepository(table).get(CORP, "O-2")
    assert state is not None and state.paid == order and len(state.refunds) == 5
    assert state.refunded_fen == state.paid_fen == 300_000 and state.version == 6


def test_an_order_in_chinese_is_measured_in_bytes_so_its_parts_fit_the_limit() -> None:
    """Chinese category names are three bytes a character in UTF-8: parts cut by characters of
    such text passed 400 KB. Stored as ASCII JSON, a character is a byte."""
    category = tuple(f"珠宝首饰分类第{level}级" * 3 for level in range(5))
    table, order = MemoryTable(), _paid("O-zh", 1_400, category)
    repository = TableOrderRepository(table)
    apply_order_event(repository, CORP, "e-1", order, WINDOW)
    refund = _refund("O-zh", "R1", [line.line_id for line in order.lines])
    apply_order_event(repository, CORP, "r-1", refund, WINDOW)
    items = _partition(table, "O-zh")
    assert max(item_size(item) for item in items) <= MAX_ITEM_BYTES
    state = TableOrderRepository(table).get(CORP, "O-zh")
    assert state is not None and state.paid == order and state.refunded_fen == state.paid_fen


def test_a_stored_fact_keeps_its_parts_so_a_refund_writes_only_its_own() -> None:
    table = MemoryTable()
    repository = TableOrderRepository(table)
    order = _paid("O-3", 3_000)
    apply_order_event(repository, CORP, "e-1", order, WINDOW)
    parts_before = {item["sk"] for item in _partition(table, "O-3")} - {"STATE"}
    writes = table.writes
    line_ids = [line.line_id for line in order.lines]
    apply_order_event(repository, CORP, "r-1", _refund("O-3", "R1", line_ids), WINDOW)
    parts_after = {item["sk"] for item in _partition(table, "O-3")} - {"STATE"}
    assert parts_before < parts_after and len(parts_after - parts_before) == 1
    assert table.writes == writes + 1  # the refund's part and the head, in one transaction


def test_parts_of_a_lost_race_are_never_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orders, "INLINE_PARTS_CHARS", 0)  # every part is put before its head
    table = MemoryTable()
    repository = TableOrderRepository(table)
    order = _paid("O-4", 3_000)
    apply_order_event(repository, CORP, "e-1", order, WINDOW)
    stale = repository.get(CORP, "O-4")
    assert stale is not None
    apply_order_event(repository, CORP, "r-1", _refund("O-4", "R1", ["L00000"]), WINDOW)
    every_line = _refund("O-4", "R2", [line.line_id for line in order.lines])
    late = apply_fact(stale, "r-2", every_line, WINDOW)
    parts = {item["sk"] for item in _partition(table, "O-4")}
    with pytest.raises(ConcurrentModification):
        repository.save(late, expected_version=stale.version)
    assert {item["sk"] for item in _partition(table, "O-4")} > parts  # written, but named by no head
    state = TableOrderRepository(table).get(CORP, "O-4")
    assert state is not None and set(state.refunds) == {"R1"} and state.version == 2


def test_the_part_keys_are_the_content_s_hash_so_a_retry_rewrites_the_same_text() -> None:
    first, second = MemoryTable(), MemoryTable()
    for table in (first, second):
        apply_order_event(TableOrderRepository(table), CORP, "e-1", _paid("O-5", 3_000), WINDOW)
    assert {k for k in first.items if k[1].startswith(PART_PREFIX)} == {
        k for k in second.items if k[1].startswith(PART_PREFIX)
    }


def test_the_memory_table_refuses_an_item_over_400_kb_as_dynamodb_does() -> None:
    with pytest.raises(ValueError, match="at most"):
        MemoryTable().transact([Put({"pk": "p", "sk": "s", "body": "x" * (MAX_ITEM_BYTES + 1)})])
