"""The WeChat Store console's routes: what the connector read, the funds flows, the reconciliation."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field

from incentives.api.app import ExportFormat, csv_response, principal_of
from incentives.core.errors import NotFound
from incentives.runtime import wechat_store as store
from incentives.wechat_store.reconciliation import CSV_COLUMNS, Report, reconcile
from routes import ADMINS

router = Router()
metrics = Metrics()

OrderId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
Day = Annotated[date, Query(description="The merchant's calendar day (YYYY-MM-DD)")]


class StoreOrderView(BaseModel):
    order_id: str
    status: int
    provisional: bool
    reread_due_at: str | None
    signals: list[dict[str, Any]]
    emitted_event_ids: list[str]
    settled_fee_fen: int | None
    predicted_fee_fen: int | None
    settled_at: str | None


class FlowView(BaseModel):
    flow_id: str
    funds_type: int
    flow_type: Literal[1, 2]
    amount_fen: int
    order_id: str | None
    booked_at: str | None
    notes: list[str]


class QuarantinedView(BaseModel):
    flow_id: str
    reason: str
    order_id: str | None


class FlowsView(BaseModel):
    day: date
    flows: list[FlowView]
    quarantined: list[QuarantinedView]


class RowView(BaseModel):
    day: str
    order_id: str
    bucket: Literal["matched", "differs", "missing", "quarantined"]
    campaign_id: str | None
    scene: str | None
    state: str | None
    in_plan: bool | None
    settled_fen: int | None
    expected_rate_ppm: int | None
    expected_fee_fen: int | None
    charged_fee_fen: int | None
    difference_fen: int | None
    growth_card_fen: int | None
    card_shown: bool
    evidence: list[str]
    flow_ids: list[str]
    note: str


class TotalsView(BaseModel):
    orders: int
    expected_fee_fen: int
    charged_fee_fen: int
    difference_fen: int
    growth_card_fen: int
    buckets: dict[str, int]


class ReconciliationView(BaseModel):
    day: str
    expectations_available: bool = Field(
        description="False while the subsidy ledger is not installed: every fee charged is then 'missing'"
    )
    rows: list[RowView]
    totals: TotalsView
    by_campaign: dict[str, TotalsView]


@router.get(
    "/admin/wechat-store/orders/<order_id>",
    summary="What the connector read of a store order",
    tags=["orders"],
)
def get_order(order_id: OrderId) -> StoreOrderView:
    principal = principal_of(router, ADMINS)
    record = store.records().order(principal.corp_id, order_id)
    if record is None:
        raise NotFound(f"the connector has not read store order {order_id}", field="order_id")
    return StoreOrderView(
        order_id=record.order_id,
        status=record.status,
        provisional=record.provisional,
        reread_due_at=record.reread_due_at.isoformat() if record.reread_due_at else None,
        signals=record.signals,
        emitted_event_ids=record.emitted,
        settled_fee_fen=record.settled_fee_fen,
        predicted_fee_fen=record.predicted_fee_fen,
        settled_at=record.settled_at.isoformat() if record.settled_at else None,
    )


@router.get(
    "/admin/wechat-store/flows", summary="The day's funds flows, and the records quarantined", tags=["flows"]
)
def get_flows(day: Day) -> FlowsView:
    principal = principal_of(router, ADMINS)
    flows, quarantined = store.records().flows(principal.corp_id, day)
    return FlowsView(
        day=day,
        flows=[
            FlowView(
                flow_id=flow.flow_id,
                funds_type=flow.funds_type,
                flow_type=flow.flow_type,  # type: ignore[arg-type]
                amount_fen=flow.amount_fen,
                order_id=flow.order_id,
                booked_at=flow.booked_at.isoformat() if flow.booked_at else None,
                notes=list(flow.notes),
            )
            for flow in flows
        ],
        quarantined=[
            QuarantinedView(flow_id=q.flow_id, reason=q.reason, order_id=q.order_id) for q in quarantined
        ],
    )


def _report(day: date) -> Report:
    principal = principal_of(router, ADMINS)
    flows, quarantined = store.records().flows(principal.corp_id, day)
    report = reconcile(principal.corp_id, day, flows, quarantined, store.subsidy_expectations())
    metrics.add_metric(
        name="WeChatStoreReconciliationDiffers", unit=MetricUnit.Count, value=report.totals.buckets["differs"]
    )
    return report


CSV_OR_JSON: dict[int | str, Any] = {
    200: {
        "description": "The day's report (JSON), or its rows (?format=csv)",
        "content": {
            "application/json": {"model": ReconciliationView},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


@router.get(
    "/admin/wechat-store/reconciliation",
    summary="Expected vs charged fee per order for a day (matched, differs, missing, quarantined)",
    tags=["reconciliation"],
    responses=CSV_OR_JSON,
)
def get_reconciliation(day: Day, format: ExportFormat = None) -> Response[ReconciliationView | str]:
    report = _report(day)
    if format == "csv":
        rows = [
            {**row.__dict__, "evidence": " | ".join(row.evidence), "flow_ids": " ".join(row.flow_ids)}
            for row in report.rows
        ]
        return csv_response(rows, CSV_COLUMNS, f"wechat-store-reconciliation-{report.day}.csv")
    view = ReconciliationView.model_validate(
        {
            "day": report.day,
            "expectations_available": report.expectations_available,
            "rows": [
                {**row.__dict__, "evidence": list(row.evidence), "flow_ids": list(row.flow_ids)}
                for row in report.rows
            ],
            "totals": report.totals.__dict__,
            "by_campaign": {campaign: totals.__dict__ for campaign, totals in report.by_campaign.items()},
        }
    )
    return Response(200, "application/json", view)
