"""Guide incentives: the payment method, rules (templates and custom, versioned), an edit's dry
run, and the reward records."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel

from incentives.api.app import (
    ExportFormat,
    ListingCursor,
    RecordPageSize,
    csv_response,
    cursor_checked,
    principal_of,
    query_instant,
)
from incentives.api.scope import CONSOLE, admin_only
from incentives.api.views.console import PreviewView, RewardRecordPage
from incentives.core.clock import SystemClock
from incentives.guides import service as incentives
from incentives.guides.service import IncentiveSettings, RewardRecord, RuleEdit, RuleInput, RuleView
from incentives.runtime import wiring
from incentives.runtime.settings import settings

router = Router()
clock = SystemClock()
TAGS = ["guide incentives"]
CSV_OR_JSON = {
    200: {
        "description": "A page of records (JSON), or every match (?format=csv)",
        "content": {
            "application/json": {"model": RewardRecordPage},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


class RuleSwitch(BaseModel):
    enabled: bool


@router.get("/admin/guide-incentives/settings", summary="Payment method of guide incentives", tags=TAGS)
def get_incentive_settings() -> IncentiveSettings:
    principal = principal_of(router, CONSOLE)
    return incentives.load_settings(wiring.guide_repository(), principal.corp_id)


@router.put("/admin/guide-incentives/settings", summary="Online (WeCom Pay) or offline", tags=TAGS)
def put_incentive_settings(request: IncentiveSettings) -> IncentiveSettings:
    principal = admin_only(router)
    configured = wiring.wecom_pay_configured(principal.corp_id)
    return incentives.save_settings(
        wiring.guide_repository(), principal.corp_id, request, configured, clock.now()
    )


@router.get("/admin/guide-incentives/rules", summary="Templates and custom rules", tags=TAGS)
def get_incentive_rules() -> list[RuleView]:
    principal = principal_of(router, CONSOLE)
    return incentives.list_rules(wiring.guide_repository(), principal.corp_id, clock.now())


@router.post("/admin/guide-incentives/rules", summary="A custom rule on a customer behavior", tags=TAGS)
def post_incentive_rule(rule: RuleInput) -> RuleView:
    principal = admin_only(router)
    return incentives.create_custom_rule(wiring.guide_repository(), principal.corp_id, rule, clock.now())


@router.put("/admin/guide-incentives/rules/<rule_id>", summary="Edit: a new version, at once", tags=TAGS)
def put_incentive_rule(rule_id: Annotated[str, Path(max_length=40)], edit: RuleEdit) -> RuleView:
    principal = admin_only(router)
    return incentives.edit_rule(wiring.guide_repository(), principal.corp_id, rule_id, edit, clock.now())


@router.post(
    "/admin/guide-incentives/rules/<rule_id>/preview", summary="Dry run of an edit on this month", tags=TAGS
)
def preview_incentive_rule(rule_id: Annotated[str, Path(max_length=40)], edit: RuleEdit) -> PreviewView:
    principal = principal_of(router, CONSOLE)
    lines = incentives.preview_edit(
        wiring.guide_repository(), principal, rule_id, edit, clock.now(), settings().time_zone
    )
    return PreviewView.of(lines)


@router.get("/admin/guide-incentives/rules/<rule_id>", summary="A rule's details and versions", tags=TAGS)
def get_incentive_rule(rule_id: Annotated[str, Path(max_length=40)]) -> RuleView:
    principal = principal_of(router, CONSOLE)
    return incentives.rule_view(wiring.guide_repository(), principal.corp_id, rule_id, clock.now())


@router.patch("/admin/guide-incentives/rules/<rule_id>", summary="Enable or disable a rule", tags=TAGS)
def patch_incentive_rule(rule_id: Annotated[str, Path(max_length=40)], switch: RuleSwitch) -> RuleView:
    principal = admin_only(router)
    return incentives.set_enabled(
        wiring.guide_repository(), principal.corp_id, rule_id, switch.enabled, clock.now()
    )


@router.get(
    "/admin/guide-incentives/records",
    summary="Reward records; ?format=csv exports",
    tags=TAGS,
    responses=CSV_OR_JSON,
)
def get_incentive_records(
    guide_id: Annotated[str | None, Query(max_length=64)] = None,
    outlet_id: Annotated[str | None, Query(max_length=32)] = None,
    rule_id: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(pattern="^(recorded|pending|paying|paid|failed)$")] = None,
    since: Annotated[str | None, Query(alias="from", description="RFC 3339")] = None,
    until: Annotated[str | None, Query(alias="to", description="RFC 3339")] = None,
    format: ExportFormat = None,
    limit: RecordPageSize = 50,
    cursor: ListingCursor = None,
) -> Response[RewardRecordPage | str]:
    principal = principal_of(router, CONSOLE)
    repo, payouts = wiring.guide_repository(), wiring.payout_repository()
    query = incentives.RecordQuery(
        guide_id=guide_id,
        outlet_id=outlet_id,
        rule_id=rule_id,
        status=status,
        since=query_instant(since, "from"),
        until=query_instant(until, "to"),
    )
    if format == "csv":  # every match, read page by page
        rows = (r.model_dump() for r in incentives.every_record(repo, payouts, principal, query))
        return csv_response(rows, list(RewardRecord.model_fields), "guide-incentive-records.csv")
    with cursor_checked():
        page, next_cursor = incentives.records_page(repo, payouts, principal, query, limit, cursor)
    matched = incentives.maintained_overview(repo, principal, query)
    if matched is None:  # a filter no counter answers: every match, read page by page
        matched = incentives.overview(incentives.every_record(repo, payouts, principal, query))
    return Response(200, "application/json", RewardRecordPage.of(page, next_cursor, matched))
