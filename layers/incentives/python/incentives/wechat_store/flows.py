"""The store's funds flows (资金流水, ``funds/getfundsflowdetail``), read defensively (pure).

The API drifts: ``related_type`` or ``bookkeeping_time`` may be missing, enum values appear and
disappear. A record is accepted when what reconciliation needs is there and known; anything
else is *quarantined* with its reason and kept for the report, never a crash.

``funds_type`` (资金类型): 1 订单支付收入, 2 订单手续费 (the technical service fee), 3 退款, 4 提现,
5 提现失败退票, 6 导购分账, 7 联盟分账, 8 运费险分账, 9 联盟平台抽佣, 10 小店抽佣, 99 分账.
``flow_type``: 1 income, 2 expense. ``related_info_list[].related_type``: 1 order, 2 after-sale,
3 withdrawal, 4 freight insurance.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

FUNDS_TYPES: dict[int, str] = {
    1: "订单支付收入",
    2: "订单手续费",
    3: "退款",
    4: "提现",
    5: "提现失败退票",
    6: "导购分账",
    7: "联盟分账",
    8: "运费险分账",
    9: "联盟平台抽佣",
    10: "小店抽佣",
    99: "分账",
}
SERVICE_FEE = 2
INCOME, EXPENSE = 1, 2
RELATED_ORDER = 1
KNOWN_RELATED_TYPES = frozenset({1, 2, 3, 4})


@dataclass(frozen=True)
class Flow:
    flow_id: str
    funds_type: int
    flow_type: int
    amount_fen: int
    order_id: str | None
    booked_at: datetime | None
    notes: tuple[str, ...] = ()

    @property
    def is_service_fee(self) -> bool:
        return self.funds_type == SERVICE_FEE

    @property
    def signed_fee_fen(self) -> int:
        """What this flow adds to the fee charged: an expense adds, an income (a fee returned) subtracts."""
        if not self.is_service_fee:
            return 0
        return self.amount_fen if self.flow_type == EXPENSE else -self.amount_fen


@dataclass(frozen=True)
class QuarantinedFlow:
    flow_id: str
    reason: str
    order_id: str | None
    raw: str


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value.strip()) <= 15:
        return int(value.strip())
    return None


def _booked_at(text: Any, time_zone: str) -> datetime | None:
    """``bookkeeping_time``: unix seconds, or ``YYYY-MM-DD HH:MM:SS`` in the store's time (Asia/Shanghai)."""
    if isinstance(text, int) and not isinstance(text, bool):
        return datetime.fromtimestamp(text, ZoneInfo("UTC"))
    if not isinstance(text, str) or not text.strip():
        return None
    value = text.strip()
    if value.isdigit():
        return datetime.fromtimestamp(int(value), ZoneInfo("UTC"))
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZoneInfo(time_zone))
    except ValueError:
        return None


def read_flow(raw: dict[str, Any], time_zone: str = "Asia/Shanghai") -> Flow | QuarantinedFlow:
    """One flow record → :class:`Flow`, or :class:`QuarantinedFlow` saying what is missing or unknown."""
    text = json.dumps(raw, ensure_ascii=False, sort_keys=True, default=str)[:2000]
    flow_id = str(raw.get("flow_id") or "").strip()
    related = [info for info in raw.get("related_info_list") or [] if isinstance(info, dict)]
    order_ids = sorted({str(info["order_id"]) for info in related if info.get("order_id")})
    order_id = order_ids[0] if len(order_ids) == 1 else None
    if not flow_id:
        flow_id = "nohash-" + hashlib.sha256(text.encode()).hexdigest()[:24]
        return QuarantinedFlow(flow_id, "the record has no flow_id", order_id, text)
    funds_type, flow_type, amount = (
        _int(raw.get("funds_type")),
        _int(raw.get("flow_type")),
        _int(raw.get("amount")),
    )
    if funds_type not in FUNDS_TYPES:
        return QuarantinedFlow(flow_id, f"unknown funds_type {raw.get('funds_type')!r}", order_id, text)
    if flow_type not in (INCOME, EXPENSE):
        return QuarantinedFlow(flow_id, f"unknown flow_type {raw.get('flow_type')!r}", order_id, text)
    if amount is None or amount < 0:
        return QuarantinedFlow(
            flow_id, f"amount is not a whole number of fen: {raw.get('amount')!r}", order_id, text
        )
    if len(order_ids) > 1:
        return QuarantinedFlow(flow_id, f"the flow names several orders: {', '.join(order_ids)}", None, text)
    notes: list[str] = []
    related_types = {_int(info.get("related_type")) for info in related}
    if order_id and None in related_types:
        notes.append("related_type missing: the order id is taken as the order")
    unknown = sorted(
        str(kind) for kind in related_types if kind is not None and kind not in KNOWN_RELATED_TYPES
    )
    if unknown:
        return QuarantinedFlow(flow_id, f"unknown related_type {', '.join(unknown)}", order_id, text)
    if funds_type == SERVICE_FEE and order_id is None:
        return QuarantinedFlow(flow_id, "a service fee that names no order", None, text)
    booked = _booked_at(raw.get("bookkeeping_time"), time_zone)
    if booked is None:
        booked = next(
            (b for b in (_booked_at(info.get("bookkeeping_time"), time_zone) for info in related) if b), None
        )
        notes.append(
            "bookkeeping_time missing: taken from related_info_list"
            if booked
            else "bookkeeping_time missing: the day pulled is taken as the day booked"
        )
    return Flow(flow_id, funds_type, flow_type, amount, order_id, booked, tuple(notes))


def day_bounds(day: date, time_zone: str) -> tuple[datetime, datetime]:
    """[00:00, next 00:00) of ``day`` in the merchant's time zone."""
    zone = ZoneInfo(time_zone)
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(date.fromordinal(day.toordinal() + 1), time(0), zone)
    return start, end
