"""What the connector needs from the outside: the store's API, its own records, the event pipeline,
and the subsidy area's expectations (adapters: ``incentives.storage.wechat_store``,
``incentives.wechat_store.client``, ``incentives.wechat_store.expectations``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from incentives.wechat_store.flows import Flow, QuarantinedFlow


class StoreApi(Protocol):
    def order(self, order_id: str) -> dict[str, Any]: ...

    def after_sale(self, after_sale_order_id: str) -> dict[str, Any]: ...

    def product_category_ids(self, product_id: str) -> list[str]: ...

    def category_name(self, cat_id: str) -> str: ...

    def funds_flow_ids(self, start: datetime, end: datetime) -> Iterator[str]: ...

    def funds_flow(self, flow_id: str) -> dict[str, Any]: ...


@dataclass
class OrderRecord:
    """What the connector remembers of one store order (its own book, not the order aggregate)."""

    corp_id: str
    order_id: str
    status: int = 0
    signals: list[dict[str, Any]] = field(default_factory=list)
    digest: str = ""
    provisional: bool = False
    reread_due_at: datetime | None = None
    emitted: list[str] = field(default_factory=list)
    settled_fee_fen: int | None = None
    predicted_fee_fen: int | None = None
    settled_at: datetime | None = None
    version: int = 0


class StoreRecords(Protocol):
    def order(self, corp_id: str, order_id: str) -> OrderRecord | None: ...

    def save_order(self, record: OrderRecord) -> None:
        """Store the record if its version is still the one read (``ConcurrentModification`` otherwise)."""
        ...

    def due_rereads(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(corp id, order id) of provisional orders whose re-read is due (all tenants)."""
        ...

    def categories(self, corp_id: str, product_id: str) -> list[str] | None: ...

    def save_categories(self, corp_id: str, product_id: str, path: list[str]) -> None: ...

    def save_flows(
        self, corp_id: str, day: date, flows: Sequence[Flow], quarantined: Sequence[QuarantinedFlow]
    ) -> None:
        """Keep the day's flows and quarantined records (idempotent: a re-pull overwrites the same ids)."""
        ...

    def flows(self, corp_id: str, day: date) -> tuple[list[Flow], list[QuarantinedFlow]]: ...


class EventSink(Protocol):
    def emit(self, corp_id: str, events: Sequence[Any], received_at: datetime) -> None:
        """Keep each event raw (audit, same body per id) and put it on the inbound events queue."""
        ...


class ExpectationView(Protocol):
    """The part of the subsidy area's ``SubsidyExpectation`` that reconciliation reads."""

    @property
    def order_id(self) -> str: ...
    @property
    def campaign_id(self) -> str | None: ...
    @property
    def scene(self) -> str | None: ...
    @property
    def in_plan(self) -> bool: ...
    @property
    def settled_fen(self) -> int: ...
    @property
    def standard_rate_ppm(self) -> int: ...
    @property
    def expected_rate_ppm(self) -> int: ...
    @property
    def expected_fee_fen(self) -> int: ...
    @property
    def growth_card_fen(self) -> int: ...
    @property
    def state(self) -> str: ...
    @property
    def evidence(self) -> tuple[str, ...]: ...


class SubsidyExpectations(Protocol):
    """The subsidy area's read side (its ``SubsidyExpectations``), as the contract names it."""

    def expectation(self, corp_id: str, order_id: str) -> ExpectationView | None: ...

    def expectations_for_day(self, corp_id: str, day: date) -> Iterable[ExpectationView]: ...
