"""The platform subsidy console under /admin/subsidy (seed 004, SPEC §4.6): campaigns, the report
per campaign, scene and day, and each order's evidence trail and entries.

Bearer JWT. Admins and operators read (the WeChat Store shop and its subsidy belong to no
department: a tenant-wide read); only admins create or change a campaign. Swagger UI:
GET /admin/subsidy/swagger.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from incentives.api.app import ExportFormat, create_api, csv_response, principal_of
from incentives.api.scope import CONSOLE, admin_only
from incentives.core.clock import SystemClock
from incentives.core.errors import NotFound
from incentives.runtime import wiring
from incentives.runtime.settings import settings
from incentives.runtime.tracing import trace_handler
from incentives.subsidy.campaign import Campaign, CampaignId, CampaignTerms
from incentives.subsidy.report import CSV_COLUMNS, ReportFilter, ReportRow, report
from incentives.subsidy.views import OrderTrail, trail_of

logger = Logger(service="subsidy-admin-api")
metrics = Metrics()
clock = SystemClock()
app = create_api(
    "admin/subsidy",
    "Incentives — platform subsidy API",
    "WeChat Store private-domain plan (seed 004): campaigns, the subsidy report, each order's evidence.",
    CONSOLE,
    api_secret=wiring.api_jwt_secret,
)
Id = Annotated[str, Path(max_length=128, pattern=r"^[A-Za-z0-9_.:@\-]+$")]
Scene = Annotated[
    str | None,
    Query(pattern="^(wecom_share|mini_program|official_account|live_reservation)$", description="One scene"),
]


class NewCampaign(CampaignTerms):
    campaign_id: CampaignId = Field(description="Chosen by the operator; unique in the tenant")


class CampaignChange(CampaignTerms):
    version: int = Field(ge=1, description="The version being replaced (409 if it moved on)")


class Campaigns(BaseModel):
    items: list[Campaign]


class SubsidyReport(BaseModel):
    """Settled orders in the plan per campaign, scene and day (paid day, merchant time)."""

    rows: list[ReportRow]
    orders: int
    settled_fen: int
    fee_saved_fen: int
    growth_cards_fen: int


@app.get("/admin/subsidy/campaigns", summary="Every campaign", tags=["campaigns"])
def list_campaigns() -> Campaigns:
    principal = principal_of(app, CONSOLE)
    found = wiring.subsidy_repository().campaigns(principal.corp_id)
    return Campaigns(items=sorted(found, key=lambda c: (c.starts_on, c.campaign_id)))


@app.post("/admin/subsidy/campaigns", summary="Create a campaign (admins)", tags=["campaigns"])
def create_campaign(body: NewCampaign) -> Campaign:
    principal = admin_only(app)
    terms = CampaignTerms.model_validate(body.model_dump(exclude={"campaign_id"}))
    campaign = wiring.subsidy_repository().create_campaign(
        principal.corp_id, body.campaign_id, terms, clock.now(), principal.subject
    )
    metrics.add_metric(name="SubsidyCampaignChanged", unit=MetricUnit.Count, value=1)
    return campaign


@app.get("/admin/subsidy/campaigns/<campaign_id>", summary="One campaign", tags=["campaigns"])
def get_campaign(campaign_id: Id) -> Campaign:
    principal = principal_of(app, CONSOLE)
    return wiring.subsidy_repository().campaign(principal.corp_id, campaign_id)


@app.put(
    "/admin/subsidy/campaigns/<campaign_id>",
    summary="Replace a campaign's terms (admins)",
    tags=["campaigns"],
)
def update_campaign(campaign_id: Id, body: CampaignChange) -> Campaign:
    principal = admin_only(app)
    terms = CampaignTerms.model_validate(body.model_dump(exclude={"version"}))
    campaign = wiring.subsidy_repository().update_campaign(
        principal.corp_id, campaign_id, terms, body.version, clock.now(), principal.subject
    )
    metrics.add_metric(name="SubsidyCampaignChanged", unit=MetricUnit.Count, value=1)
    return campaign


CSV_OR_JSON: dict[int, Any] = {
    200: {
        "description": "The rows and their totals (JSON), or the rows (?format=csv)",
        "content": {
            "application/json": {"model": SubsidyReport},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


@app.get(
    "/admin/subsidy/report",
    summary="The report per campaign, scene and day; ?format=csv exports",
    tags=["report"],
    responses=CSV_OR_JSON,
)
def subsidy_report(
    campaign_id: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_.:@\-]+$")] = None,
    scene: Scene = None,
    day_from: Annotated[
        date | None, Query(alias="from", description="First paid day (merchant time)")
    ] = None,
    day_to: Annotated[date | None, Query(alias="to", description="Last paid day (merchant time)")] = None,
    format: ExportFormat = None,
) -> Response[SubsidyReport | str]:
    principal = principal_of(app, CONSOLE)
    repository = wiring.subsidy_repository()
    wanted = ReportFilter(campaign_id=campaign_id, scene=scene, day_from=day_from, day_to=day_to)
    campaign_ids = (
        [campaign_id] if campaign_id else [c.campaign_id for c in repository.campaigns(principal.corp_id)]
    )
    cases = (
        case
        for one in campaign_ids
        for case in repository.cases_of_campaign(principal.corp_id, one, day_from, day_to)
    )
    rows = report(cases, settings().time_zone, wanted)
    if format == "csv":
        exported = csv_response(
            (row.model_dump(mode="json") for row in rows), CSV_COLUMNS, "subsidy-report.csv"
        )
        return cast("Response[SubsidyReport | str]", exported)
    answer = SubsidyReport(
        rows=rows,
        orders=sum(row.orders for row in rows),
        settled_fen=sum(row.settled_fen for row in rows),
        fee_saved_fen=sum(row.fee_saved_fen for row in rows),
        growth_cards_fen=sum(row.growth_cards_fen for row in rows),
    )
    return Response(200, "application/json", answer)


@app.get(
    "/admin/subsidy/orders/<order_id>", summary="One order's evidence trail and entries", tags=["orders"]
)
def order_trail(order_id: Id) -> OrderTrail:
    principal = principal_of(app, CONSOLE)
    repository = wiring.subsidy_repository()
    case = repository.case(principal.corp_id, order_id)
    if case is None:
        raise NotFound(f"no subsidy case for order {order_id}", field="order_id")
    campaigns = repository.campaigns(principal.corp_id)
    campaign_id = case.attribution.campaign_id if case.attribution else None
    campaign = next((c for c in campaigns if c.campaign_id == campaign_id), None)
    return trail_of(case, campaign, settings().time_zone)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@trace_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
