"""The WeChat Store client against the store sandbox: token cache and retry, backoff, clear errors,
paged funds flows; and the sync service's order → events path over the same sandbox."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl, urlparse

import pytest

from incentives.api.errors import error_response
from incentives.core.clock import FixedClock
from incentives.core.errors import Conflict, NotFound
from incentives.storage.memory_table import MemoryTable
from incentives.storage.wechat_store import TableStoreRecords
from incentives.wechat_store.client import StoreApiError, StoreApiUnavailable, StoreClient
from incentives.wechat_store.sync import SyncPorts, pull_flows, reread_due_orders, sync_order
from incentives.wecom.client import MemoryTokenCache
from incentives.wecom.crypto import CallbackCrypto
from infra.local.sandboxes.wechat_store import WeChatStoreSandbox

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def sandbox() -> WeChatStoreSandbox:
    crypto = CallbackCrypto("t", "a" * 43, "wxstore01")
    return WeChatStoreSandbox("wxstore01", "store-secret", crypto, "http://127.0.0.1:9/unreachable")


def client(
    store: WeChatStoreSandbox, slept: list[float] | None = None, secret: str = "store-secret"
) -> StoreClient:
    def transport(method: str, url: str, body: bytes | None, timeout: float) -> bytes:
        parsed = urlparse(url)
        answer = store.api(
            method, parsed.path, dict(parse_qsl(parsed.query)), json.loads(body) if body else {}
        )
        return json.dumps(answer).encode()

    return StoreClient(
        "wxstore01",
        secret,
        MemoryTokenCache(),
        FixedClock(NOW),
        tenant="ww-1",
        transport=transport,
        sleep=(slept.append if slept is not None else lambda _: None),
    )


def paid(store: WeChatStoreSandbox, **request: Any) -> str:
    body = {
        "products": [{"product_id": "p1", "sku_id": "s1", "price_fen": 10000, "category": ["服饰", "女装"]}]
    }
    return str(store.create_order({**body, "deliveries": 0, **request})["order_id"])


def test_the_token_is_fetched_once_and_reused() -> None:
    store = sandbox()
    api = client(store)
    order_id = paid(store)
    api.order(order_id)
    api.order(order_id)
    assert store.calls.count("/cgi-bin/token") == 1


def test_an_expired_token_is_replaced_and_the_call_retried_once() -> None:
    store = sandbox()
    api = client(store)
    order_id = paid(store)
    api.order(order_id)
    store.faults.extend([42001])
    assert api.order(order_id)["order_id"] == order_id
    assert store.calls.count("/cgi-bin/token") == 2


def test_the_frequency_limit_backs_off_then_answers() -> None:
    store, slept = sandbox(), []
    api = client(store, slept)
    order_id = paid(store)
    store.faults.extend([45009, 45009])
    assert api.order(order_id)["order_id"] == order_id
    assert slept == [0.5, 1.0]


def test_a_limit_that_outlasts_the_backoff_is_a_503_with_retry_after() -> None:
    store = sandbox()
    api = client(store)
    store.faults.extend([45009] * 4)
    with pytest.raises(StoreApiUnavailable) as raised:
        api.order("1")
    response = error_response(raised.value)
    assert response.status_code == 503 and raised.value.retry_after_seconds == 60


def test_a_wrong_secret_is_a_502_naming_the_secret() -> None:
    with pytest.raises(StoreApiError) as raised:
        client(sandbox(), secret="wrong").order("1")
    assert raised.value.errcode == 40001 and "AppSecret" in raised.value.message
    assert error_response(raised.value).status_code == 502


def test_an_unknown_order_is_not_found() -> None:
    with pytest.raises(NotFound):
        client(sandbox()).order("404")


def test_funds_flows_are_listed_over_every_page() -> None:
    store = sandbox()
    for n in range(150):
        store.add_flow(
            {
                "record": {"flow_id": f"f{n:03}", "funds_type": 1, "flow_type": 1, "amount": 1},
                "bookkeeping_unix": 1764000000,
            }
        )
    ids = list(
        client(store).funds_flow_ids(datetime(2025, 11, 24, tzinfo=UTC), datetime(2025, 11, 26, tzinfo=UTC))
    )
    assert len(ids) == 150 and len(set(ids)) == 150


class Sink:
    def __init__(self) -> None:
        self.events: list[Any] = []
        self.bodies: dict[str, str] = {}

    def emit(self, corp_id: str, events: Sequence[Any], received_at: datetime) -> None:
        for event in events:
            body = event.model_dump_json()
            if self.bodies.setdefault(event.event_id, body) != body:
                raise Conflict("other body", field="event_id")
            self.events.append(event)


def ports(store: WeChatStoreSandbox, sink: Sink, records: TableStoreRecords) -> SyncPorts:
    api = client(store)
    return SyncPorts(
        api_for=lambda corp: api,
        records=records,
        sink=sink,
        store_id_for=lambda corp: "wechat-store-wxstore01",
    )


def test_a_pushed_order_is_emitted_once_with_its_category_path_and_a_repush_emits_nothing() -> None:
    store, sink, records = sandbox(), Sink(), TableStoreRecords(MemoryTable())
    order_id = paid(store, scenes=["official_account"])
    first = sync_order(ports(store, sink, records), "ww-1", order_id, NOW)
    again = sync_order(ports(store, sink, records), "ww-1", order_id, NOW)
    assert first.emitted == [f"wxs-{order_id}-paid"] and again.emitted == []
    assert sink.events[0].data.lines[0].category_path == ["服饰", "女装"]
    assert [s.kind for s in sink.events[0].data.source.signals] == ["official_account"]


def test_a_provisional_order_is_re_read_when_due_and_its_new_signals_follow_as_a_source_update() -> None:
    store, sink, records = sandbox(), Sink(), TableStoreRecords(MemoryTable())
    order_id = paid(store, scenes=["wecom_share"], provisional=True)
    first = sync_order(ports(store, sink, records), "ww-1", order_id, NOW)
    assert first.provisional and first.scenes == []
    assert reread_due_orders(ports(store, sink, records), NOW) == {"reread": 0, "failed": 0}  # not due yet
    store.finish_parsing(order_id, {"deliveries": 0})
    later = NOW.replace(hour=3)
    assert reread_due_orders(ports(store, sink, records), later) == {"reread": 1, "failed": 0}
    assert [event.type for event in sink.events] == ["order.paid", "order.source_updated"]
    assert [s.kind for s in sink.events[1].data.source.signals] == ["wecom_share"]
    record = records.order("ww-1", order_id)
    assert record is not None and not record.provisional and record.reread_due_at is None


def test_refund_completion_and_settlement_are_read_from_the_store() -> None:
    store, sink, records = sandbox(), Sink(), TableStoreRecords(MemoryTable())
    order_id = paid(store)
    sync = ports(store, sink, records)
    sync_order(sync, "ww-1", order_id, NOW)
    refund = store.refund(order_id, {"amount_fen": 2000, "deliveries": 0})
    sync_order(sync, "ww-1", order_id, NOW, after_sale_order_id=refund["after_sale_order_id"])
    store.confirm(order_id, {"deliveries": 0})
    store.settle(order_id, {"fee_fen": 480, "settle_time": 1764100000, "deliveries": 0})
    sync_order(sync, "ww-1", order_id, NOW)
    assert [event.type for event in sink.events] == ["order.paid", "order.refunded", "order.completed"]
    record = records.order("ww-1", order_id)
    assert record is not None and record.settled_fee_fen == 480


def test_the_days_flows_are_pulled_and_drift_is_quarantined_not_fatal() -> None:
    store, records = sandbox(), TableStoreRecords(MemoryTable())
    order_id = paid(store)
    store.settle(order_id, {"fee_fen": 480, "settle_time": 1764000000, "deliveries": 0})
    store.add_flow(
        {
            "record": {"flow_id": "odd", "funds_type": 77, "flow_type": 2, "amount": 5},
            "bookkeeping_unix": 1764000001,
        }
    )
    pulled = pull_flows(client(store), records, "ww-1", date(2025, 11, 25), "Asia/Shanghai")
    assert (pulled.flows, pulled.service_fees, pulled.quarantined) == (1, 1, 1)
    flows, quarantined = records.flows("ww-1", date(2025, 11, 25))
    assert [(f.order_id, f.amount_fen) for f in flows] == [(order_id, 480)]
    assert [q.reason for q in quarantined] == ["unknown funds_type 77"]


def test_a_product_the_store_no_longer_describes_leaves_its_line_uncategorised_not_the_order_unread() -> None:
    store, sink, records = sandbox(), Sink(), TableStoreRecords(MemoryTable())
    order_id = paid(store)
    store.products.clear()  # deleted since the sale: product/get answers an error
    result = sync_order(ports(store, sink, records), "ww-1", order_id, NOW)
    assert result.emitted == [f"wxs-{order_id}-paid"]
    assert sink.events[0].data.lines[0].category_path == ["未知类目"]
    assert records.categories("ww-1", "p1") is None  # asked again next time
