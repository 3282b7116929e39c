"""Reading the store: a push (or a due re-read) → ``order/get`` → our order events; the daily pull of
funds flows. Application services over the ports; the rules are in ``mapping`` and ``flows``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from incentives.core.errors import Conflict, UpstreamError, UpstreamUnavailable
from incentives.wechat_store import mapping
from incentives.wechat_store.flows import Flow, QuarantinedFlow, day_bounds, read_flow
from incentives.wechat_store.orders import AfterSaleOrder, StoreOrder
from incentives.wechat_store.ports import EventSink, OrderRecord, StoreApi, StoreRecords

REREAD_AFTER = timedelta(minutes=30)
"""How soon a provisional order (解析中) is read again."""
MAX_CATEGORY_DEPTH = 4


class UnreadableOrder(UpstreamError):
    code = "wechat_store_error"


@dataclass(frozen=True)
class SyncPorts:
    api_for: Callable[[str], StoreApi]
    records: StoreRecords
    sink: EventSink
    store_id_for: Callable[[str], str]
    reread_after: timedelta = REREAD_AFTER


@dataclass
class SyncResult:
    order_id: str
    emitted: list[str] = field(default_factory=list)
    provisional: bool = False
    scenes: list[str] = field(default_factory=list)


def _categories(ports: SyncPorts, api: StoreApi, corp_id: str, order: StoreOrder) -> dict[str, list[str]]:
    """Each product's category path (names, top level first), read once per product and kept.

    A product the store no longer describes (deleted since the sale) keeps no path: its line
    says ``未知类目`` and the next read of the order asks again. Busy / rate-limited answers fail
    the read, which the queue retries.
    """
    paths: dict[str, list[str]] = {}
    for product in order.order_detail.product_infos:
        if not product.product_id or product.product_id in paths:
            continue
        kept = ports.records.categories(corp_id, product.product_id)
        if kept is None:
            try:
                ids = api.product_category_ids(product.product_id)[:MAX_CATEGORY_DEPTH]
                kept = [api.category_name(cat_id)[:128] for cat_id in ids]
            except UpstreamUnavailable:
                raise
            except UpstreamError:
                continue
            ports.records.save_categories(corp_id, product.product_id, kept)
        paths[product.product_id] = kept
    return paths


def _read_order(api: StoreApi, order_id: str) -> StoreOrder:
    try:
        return StoreOrder.model_validate(api.order(order_id))
    except ValidationError as error:
        raise UnreadableOrder(
            f"order/get answered an order we cannot read: {error.errors()[0]['loc']}"
        ) from None


def sync_order(
    ports: SyncPorts,
    corp_id: str,
    order_id: str,
    now: datetime,
    *,
    after_sale_order_id: str | None = None,
    reason: str = "message push",
) -> SyncResult:
    """Read the order now and emit what is new: paid, changed signals, completed, a refund."""
    api = ports.api_for(corp_id)
    order = _read_order(api, order_id)
    record = ports.records.order(corp_id, order_id) or OrderRecord(corp_id=corp_id, order_id=order_id)
    signals = mapping.scene_signals(order)
    digest = mapping.signals_digest(signals)
    provisional = mapping.is_provisional(order)
    pending: list[Any] = []

    paid = mapping.paid_event(
        order, ports.store_id_for(corp_id), signals, _categories(ports, api, corp_id, order)
    )
    if paid is not None and paid.event_id not in record.emitted:
        pending.append(paid)
    elif paid is not None and digest != record.digest:
        why = (
            "the store finished parsing the share data"
            if not provisional
            else "the store's share data changed"
        )
        pending.append(mapping.source_updated_event(order, signals, f"{reason}: {why}"))
    completed = mapping.completed_event(order)
    if completed is not None and paid is not None and completed.event_id not in record.emitted:
        pending.append(completed)
    if after_sale_order_id:
        after_sale = AfterSaleOrder.model_validate(api.after_sale(after_sale_order_id))
        refund = mapping.refunded_event(order, after_sale) if after_sale.order_id == order.order_id else None
        if refund is not None and refund.event_id not in record.emitted:
            pending.append(refund)

    result = SyncResult(order_id, provisional=provisional, scenes=[signal.kind for signal in signals])
    for event in pending:
        try:
            ports.sink.emit(corp_id, [event], now)
        except Conflict:
            # Emitted before with other signals (a crash before the record was saved): the
            # signals now follow as a source update on the next read.
            digest = ""
        record.emitted.append(event.event_id)
        result.emitted.append(event.event_id)
    if paid is not None:
        record.digest = digest
        record.signals = [signal.model_dump(mode="json", exclude_none=True) for signal in signals]
    record.status = order.status
    record.provisional = provisional and order.status in mapping.PAID_STATUSES
    record.reread_due_at = now + ports.reread_after if record.provisional else None
    settled = mapping.settlement(order)
    if settled is not None:
        record.settled_fee_fen = settled.commission_fee_fen
        record.predicted_fee_fen = settled.predicted_fee_fen
        record.settled_at = settled.settled_at
    ports.records.save_order(record)
    return result


def reread_due_orders(ports: SyncPorts, now: datetime, limit: int = 500) -> dict[str, int]:
    """Read again every provisional order whose re-read is due; one failure does not stop the others."""
    done = failed = 0
    for corp_id, order_id in ports.records.due_rereads(now, limit):
        try:
            sync_order(ports, corp_id, order_id, now, reason="scheduled re-read")
            done += 1
        except (UpstreamError, Conflict):
            failed += 1
    return {"reread": done, "failed": failed}


@dataclass(frozen=True)
class FlowPull:
    corp_id: str
    day: str
    flows: int
    service_fees: int
    quarantined: int
    reasons: dict[str, int]


def pull_flows(api: StoreApi, records: StoreRecords, corp_id: str, day: date, time_zone: str) -> FlowPull:
    """The day's funds flows: list, read each, keep the readable and quarantine the rest (with why)."""
    start, end = day_bounds(day, time_zone)
    flows: list[Flow] = []
    quarantined: list[QuarantinedFlow] = []
    for flow_id in api.funds_flow_ids(start, end):
        try:
            raw = api.funds_flow(flow_id)
        except UpstreamError as error:
            quarantined.append(QuarantinedFlow(flow_id, f"getfundsflowdetail failed: {error}", None, ""))
            continue
        read = read_flow({"flow_id": flow_id, **raw}, time_zone)
        (flows if isinstance(read, Flow) else quarantined).append(read)  # type: ignore[arg-type]
    records.save_flows(corp_id, day, flows, quarantined)
    reasons: dict[str, int] = {}
    for item in quarantined:
        reasons[item.reason] = reasons.get(item.reason, 0) + 1
    return FlowPull(
        corp_id,
        day.isoformat(),
        len(flows),
        sum(1 for flow in flows if flow.is_service_fee),
        len(quarantined),
        reasons,
    )
