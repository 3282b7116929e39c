"""Operator console API under /admin (SPEC §3.3): payouts, organization, tags, guide incentives.

Bearer JWT (admin or operator). Operators read only their departments' subtrees; every write
authorizes through ``incentives.api.scope`` (data nodes for operators' changes, admins only for
the tenant's settings). OpenAPI document and Swagger UI: GET /admin/swagger (``?format=json``).
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from incentives.api.app import (
    ExportFormat,
    PageCursor,
    RecordPageSize,
    create_api,
    csv_response,
    page_of,
    principal_of,
    query_instant,
)
from incentives.api.errors import wecom_responses
from incentives.api.scope import CONSOLE, NodeChoice, admin_only, authorize_write
from incentives.core.access import Principal
from incentives.core.clock import SystemClock, iso_utc
from incentives.core.errors import InvalidInput, NotFound
from incentives.guides import service as incentives
from incentives.guides.service import IncentiveSettings, RuleEdit, RuleInput, RuleView
from incentives.messages.internal import OrgSyncRequested, OrgSyncRequestedEvent
from incentives.messages.queued import QueuedEvent
from incentives.org.chart import DepartmentNodeView, org_chart
from incentives.org.levels import LevelsView, OrgLevels, add_node, levels_view, remove_node, save_levels
from incentives.org.outlets import (
    ContactWayView,
    OutletView,
    create_contact_way,
    list_outlets,
    set_guide_welcome,
    visible_guide,
    visible_outlet,
)
from incentives.org.permissions import GuidePermissions, load_permissions, save_permissions
from incentives.org.service import SyncStatus, request_sync, sync_status
from incentives.payouts import service
from incentives.payouts.model import Payout, PayoutStatus
from incentives.payouts.views import PayoutPage, PayoutView
from incentives.runtime import wiring
from incentives.runtime.settings import settings
from incentives.tags.service import (
    SegmentMember,
    TagGroupView,
    TagView,
    add_tags,
    create_group,
    delete_group,
    delete_tag,
    import_from_wecom,
    list_tags,
    segment,
    update_group,
    update_tag,
)

logger = Logger(service="admin-api")
tracer = Tracer()
metrics = Metrics()
clock = SystemClock()

app = create_api(
    "admin",
    "Incentives — operator console API",
    "Payouts, organization, tags and guide incentives of a tenant. Operators see their departments' "
    "subtrees; their changes name a `data_node` when they are on several data nodes.",
    CONSOLE,
    api_secret=wiring.api_jwt_secret,
)


def _visible(principal: Principal, payout: Payout | None, payout_id: str) -> Payout:
    """A payout the caller may see; others are reported as not found (their existence is not leaked)."""
    if payout is None or not principal.sees_department_path(payout.payee.dept_path):
        raise NotFound(f"no payout {payout_id}", field="payout_id")
    return payout


@app.get("/admin/payouts", summary="List payouts, newest first", tags=["payouts"])
def list_payouts(
    status: Annotated[PayoutStatus | None, Query(description="Only payouts in this state")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size")] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> PayoutPage:
    principal = principal_of(app, CONSOLE)
    try:
        payouts, next_cursor = wiring.payout_repository().page(
            principal.corp_id,
            status,
            limit,
            cursor,
            keep=lambda payout: principal.sees_department_path(payout.payee.dept_path),
        )
    except ValueError as error:
        raise InvalidInput(str(error), field="cursor") from None
    return PayoutPage(items=[PayoutView.of(p) for p in payouts], next_cursor=next_cursor)


@app.get("/admin/payouts/<payout_id>", summary="One payout with its history", tags=["payouts"])
def get_payout(payout_id: Annotated[str, Path(max_length=32)]) -> PayoutView:
    principal = principal_of(app, CONSOLE)
    payout = wiring.payout_repository().get(principal.corp_id, payout_id)
    return PayoutView.of(_visible(principal, payout, payout_id))


@app.post(
    "/admin/payouts/<payout_id>/requeue", summary="Send a failed payout again (same id)", tags=["payouts"]
)
def requeue_payout(
    payout_id: Annotated[str, Path(max_length=32)], request: NodeChoice | None = None
) -> PayoutView:
    def payee_path(principal: Principal) -> tuple[str, ...]:
        payout = wiring.payout_repository().get(principal.corp_id, payout_id)
        return _visible(principal, payout, payout_id).payee.dept_path

    principal = authorize_write(
        app, wiring.table(), request.data_node if request else None, payee_path
    ).principal
    payout = service.requeue(
        wiring.payout_repository(),
        wiring.payout_queue(),
        principal.corp_id,
        payout_id,
        clock.now(),
        actor=f"{principal.role.value}:{principal.subject}",
    )
    logger.info("payout re-queued", extra={"payout_id": payout_id, "by": principal.subject})
    return PayoutView.of(payout)


class ContactWayRequest(NodeChoice):
    welcome_message: str | None = Field(default=None, max_length=4000, description="Sent to each new contact")


class WelcomeRequest(NodeChoice):
    text: str = Field(min_length=1, max_length=4000)


@app.post(
    "/admin/org/sync",
    summary="Synchronise departments, outlets and guides from WeCom, in the background",
    description="Answers 202 with the sync status at once; follow it with GET /admin/org/sync.",
    tags=["org"],
    responses={202: {"description": "Queued", "content": {"application/json": {"schema": {}}}}},
)
def sync_org() -> Response[str]:
    principal = admin_only(app)
    now = clock.now()
    status = request_sync(wiring.table(), principal.corp_id, principal.subject, now)
    request = OrgSyncRequested(requested_by=principal.subject, requested_at=now)
    event = OrgSyncRequestedEvent(
        event_id=f"org-sync-{iso_utc(now)}", type="org.sync_requested", occurred_at=now, data=request
    )
    wiring.event_queue().send([QueuedEvent(corp_id=principal.corp_id, received_at=now, event=event)])
    logger.info("organization sync queued", extra={"by": principal.subject})
    return Response(202, content_types.APPLICATION_JSON, status.model_dump_json())


@app.get(
    "/admin/org/sync",
    summary="The organization sync: queued, running (with progress), finished or failed (with why)",
    tags=["org"],
)
def get_sync_status() -> SyncStatus:
    principal = admin_only(app)
    return sync_status(wiring.table(), principal.corp_id)


@app.get(
    "/admin/org/tree",
    summary="The department tree in the caller's scope, with counts; ?q= searches names",
    tags=["org"],
)
def get_org_tree(
    q: Annotated[str | None, Query(max_length=64, description="Part of a department's name")] = None,
) -> list[DepartmentNodeView]:
    principal = principal_of(app, CONSOLE)
    return org_chart(wiring.table(), principal, q)


@app.get("/admin/outlets", summary="Outlets with guide and customer counts", tags=["org"])
def get_outlets(
    q: Annotated[str | None, Query(max_length=64, description="Part of the outlet name")] = None,
    subtree: Annotated[
        list[str] | None, Query(description="Department ids; outlets under any of them")
    ] = None,
) -> list[OutletView]:
    principal = principal_of(app, CONSOLE)
    return list_outlets(wiring.table(), principal, q, subtree or ())


@app.post(
    "/admin/outlets/<outlet_id>/contact-way",
    summary="Create the outlet's Contact-Me QR code",
    tags=["org"],
    responses=wecom_responses(ContactWayView),
)
def post_contact_way(
    outlet_id: Annotated[str, Path(max_length=32)], request: ContactWayRequest
) -> ContactWayView:
    table = wiring.table()
    grant = authorize_write(
        app, table, request.data_node, lambda principal: visible_outlet(table, principal, outlet_id)["path"]
    )
    return create_contact_way(
        table,
        wiring.wecom_client(grant.principal.corp_id),
        grant.principal,
        outlet_id,
        request.welcome_message,
        clock.now(),
        data_node=grant.data_node,
    )


@app.put("/admin/guides/<user_id>/welcome-message", summary="A guide's default welcome message", tags=["org"])
def put_guide_welcome(
    user_id: Annotated[str, Path(max_length=64)], request: WelcomeRequest
) -> dict[str, str]:
    table = wiring.table()
    grant = authorize_write(
        app, table, request.data_node, lambda principal: visible_guide(table, principal, user_id)["dept_path"]
    )
    set_guide_welcome(table, grant.principal, user_id, request.text)
    return {"user_id": user_id, "welcome_message": request.text}


class TagGroupRequest(BaseModel):
    name: str = Field(min_length=1, max_length=30)
    tags: list[str] = Field(min_length=1, max_length=100)
    visible: bool = True


class TagUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=30)
    visible: bool | None = None


class GroupTagsRequest(BaseModel):
    tags: list[str] = Field(min_length=1, max_length=100, description="Names of the new tags")
    visible: bool = Field(default=True, description="Visible to guides (then created in WeCom at once)")


class TagGroupUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=30)
    visible: bool | None = Field(
        default=None, description="Hidden: deleted in WeCom with its tags; shown: created there anew"
    )


class TagGroupDeleted(BaseModel):
    group_id: str
    deleted: bool


@app.get(
    "/admin/org/levels",
    summary="The intermediate level and its data nodes with names (an operator's: those in their subtrees)",
    tags=["org"],
)
def get_levels(
    q: Annotated[str | None, Query(max_length=64, description="Part of a data node's name")] = None,
) -> LevelsView:
    principal = principal_of(app, CONSOLE)
    return levels_view(wiring.table(), principal, q)


@app.put("/admin/org/levels", summary="Name the intermediate level and pick its data nodes", tags=["org"])
def put_levels(levels: OrgLevels) -> OrgLevels:
    principal = admin_only(app)
    return save_levels(wiring.table(), principal.corp_id, levels, clock.now())


class NodeRequest(BaseModel):
    dept_id: str = Field(min_length=1, max_length=32, description="A department of the organization")


@app.post("/admin/org/levels/nodes", summary="Add one department as a data node", tags=["org"])
def post_level_node(request: NodeRequest) -> LevelsView:
    principal = admin_only(app)
    add_node(wiring.table(), principal.corp_id, request.dept_id, clock.now())
    return levels_view(wiring.table(), principal)


@app.delete(
    "/admin/org/levels/nodes/<dept_id>",
    summary="Remove one data node (its operators keep read-only access to history)",
    tags=["org"],
)
def delete_level_node(dept_id: Annotated[str, Path(max_length=32)]) -> LevelsView:
    principal = admin_only(app)
    remove_node(wiring.table(), principal.corp_id, dept_id, clock.now())
    return levels_view(wiring.table(), principal)


@app.get("/admin/tags", summary="The customer tag library", tags=["tags"])
def get_tags() -> list[TagView]:
    principal = principal_of(app, CONSOLE)
    return list_tags(wiring.table(), principal.corp_id)


@app.post(
    "/admin/tag-groups",
    summary="Create a tag group (pushed to WeCom when visible)",
    tags=["tags"],
    responses=wecom_responses(list[TagView]),
)
def post_tag_group(request: TagGroupRequest) -> list[TagView]:
    principal = admin_only(app)
    return create_group(
        wiring.table(),
        wiring.wecom_client(principal.corp_id),
        principal.corp_id,
        request.name,
        request.tags,
        request.visible,
    )


@app.patch(
    "/admin/tags/<tag_id>",
    summary="Rename a tag or change its visibility to guides",
    tags=["tags"],
    responses=wecom_responses(TagView),
)
def patch_tag(tag_id: Annotated[str, Path(max_length=40)], request: TagUpdate) -> TagView:
    principal = admin_only(app)
    return update_tag(
        wiring.table(),
        wiring.wecom_client(principal.corp_id),
        principal.corp_id,
        tag_id,
        request.name,
        request.visible,
    )


@app.delete(
    "/admin/tags/<tag_id>",
    summary="Delete a tag (here and in WeCom)",
    tags=["tags"],
    responses=wecom_responses(dict[str, str]),
)
def remove_tag(tag_id: Annotated[str, Path(max_length=40)]) -> dict[str, str]:
    principal = admin_only(app)
    delete_tag(wiring.table(), wiring.wecom_client(principal.corp_id), principal.corp_id, tag_id)
    return {"tag_id": tag_id, "deleted": "yes"}


@app.post(
    "/admin/tag-groups/<group_id>/tags",
    summary="Add tags to a group (created in WeCom's group at once when visible)",
    tags=["tags"],
    responses=wecom_responses(TagGroupView),
)
def post_group_tags(group_id: Annotated[str, Path(max_length=40)], request: GroupTagsRequest) -> TagGroupView:
    principal = admin_only(app)
    return add_tags(
        wiring.table(),
        wiring.wecom_client(principal.corp_id),
        principal.corp_id,
        group_id,
        request.tags,
        request.visible,
    )


@app.patch(
    "/admin/tag-groups/<group_id>",
    summary="Rename a tag group or change its visibility to guides (WeCom follows at once)",
    tags=["tags"],
    responses=wecom_responses(TagGroupView),
)
def patch_tag_group(group_id: Annotated[str, Path(max_length=40)], request: TagGroupUpdate) -> TagGroupView:
    principal = admin_only(app)
    return update_group(
        wiring.table(),
        wiring.wecom_client(principal.corp_id),
        principal.corp_id,
        group_id,
        request.name,
        request.visible,
    )


@app.delete(
    "/admin/tag-groups/<group_id>",
    summary="Delete a tag group with its tags (here and in WeCom)",
    tags=["tags"],
    responses=wecom_responses(TagGroupDeleted),
)
def remove_tag_group(group_id: Annotated[str, Path(max_length=40)]) -> TagGroupDeleted:
    principal = admin_only(app)
    delete_group(wiring.table(), wiring.wecom_client(principal.corp_id), principal.corp_id, group_id)
    return TagGroupDeleted(group_id=group_id, deleted=True)


@app.post(
    "/admin/tags/import",
    summary="Import the corp tag library from WeCom (manual)",
    tags=["tags"],
    responses=wecom_responses(dict[str, Any]),
)
def post_tag_import() -> dict[str, Any]:
    principal = admin_only(app)
    return import_from_wecom(wiring.table(), wiring.wecom_client(principal.corp_id), principal.corp_id)


class SegmentRequest(BaseModel):
    tag_ids: list[str] = Field(min_length=1, max_length=100)


@app.post(
    "/admin/customers/segment", summary="Customers with tags: OR within a group, AND across", tags=["tags"]
)
def post_segment(request: SegmentRequest) -> list[SegmentMember]:
    principal = principal_of(app, CONSOLE)
    return segment(wiring.table(), principal, request.tag_ids)


@app.get("/admin/guide-permissions", summary="What guides see and edit of customers", tags=["org"])
def get_permissions() -> GuidePermissions:
    principal = principal_of(app, CONSOLE)
    return load_permissions(wiring.table(), principal.corp_id)


@app.put("/admin/guide-permissions", summary="Set what guides see and edit of customers", tags=["org"])
def put_permissions(permissions: GuidePermissions) -> GuidePermissions:
    principal = admin_only(app)
    return save_permissions(wiring.table(), principal.corp_id, permissions)


class RuleSwitch(BaseModel):
    enabled: bool


class PreviewView(BaseModel):
    lines: list[dict[str, Any]]
    produced_fen: int = Field(description="What this month's occurrences produced")
    would_produce_fen: int = Field(description="What they would have produced under the edit, from zero")


@app.get(
    "/admin/guide-incentives/settings",
    summary="Payment method of guide incentives",
    tags=["guide incentives"],
)
def get_incentive_settings() -> IncentiveSettings:
    principal = principal_of(app, CONSOLE)
    return incentives.load_settings(wiring.table(), principal.corp_id)


@app.put(
    "/admin/guide-incentives/settings", summary="Online (WeCom Pay) or offline", tags=["guide incentives"]
)
def put_incentive_settings(request: IncentiveSettings) -> IncentiveSettings:
    principal = admin_only(app)
    configured = wiring.wecom_pay_configured(principal.corp_id)
    return incentives.save_settings(wiring.table(), principal.corp_id, request, configured, clock.now())


@app.get("/admin/guide-incentives/rules", summary="Templates and custom rules", tags=["guide incentives"])
def get_incentive_rules() -> list[RuleView]:
    principal = principal_of(app, CONSOLE)
    return incentives.list_rules(wiring.table(), principal.corp_id, clock.now())


@app.post(
    "/admin/guide-incentives/rules", summary="A custom rule on a customer behavior", tags=["guide incentives"]
)
def post_incentive_rule(rule: RuleInput) -> RuleView:
    principal = admin_only(app)
    return incentives.create_custom_rule(wiring.table(), principal.corp_id, rule, clock.now())


@app.put(
    "/admin/guide-incentives/rules/<rule_id>",
    summary="Edit: a new version, at once",
    tags=["guide incentives"],
)
def put_incentive_rule(rule_id: Annotated[str, Path(max_length=40)], edit: RuleEdit) -> RuleView:
    principal = admin_only(app)
    return incentives.edit_rule(wiring.table(), principal.corp_id, rule_id, edit, clock.now())


@app.post(
    "/admin/guide-incentives/rules/<rule_id>/preview",
    summary="Dry run of an edit on this month",
    tags=["guide incentives"],
)
def preview_incentive_rule(rule_id: Annotated[str, Path(max_length=40)], edit: RuleEdit) -> PreviewView:
    principal = principal_of(app, CONSOLE)
    lines = incentives.preview_edit(
        wiring.table(), principal, rule_id, edit, clock.now(), settings().time_zone
    )
    return PreviewView(
        lines=[vars(line) for line in lines],
        produced_fen=sum(x.produced_fen for x in lines),
        would_produce_fen=sum(x.would_produce_fen for x in lines),
    )


@app.get(
    "/admin/guide-incentives/rules/<rule_id>",
    summary="A rule's details and versions",
    tags=["guide incentives"],
)
def get_incentive_rule(rule_id: Annotated[str, Path(max_length=40)]) -> RuleView:
    principal = principal_of(app, CONSOLE)
    return incentives.rule_view(wiring.table(), principal.corp_id, rule_id, clock.now())


@app.patch(
    "/admin/guide-incentives/rules/<rule_id>", summary="Enable or disable a rule", tags=["guide incentives"]
)
def patch_incentive_rule(rule_id: Annotated[str, Path(max_length=40)], switch: RuleSwitch) -> RuleView:
    principal = admin_only(app)
    return incentives.set_enabled(wiring.table(), principal.corp_id, rule_id, switch.enabled, clock.now())


@app.get(
    "/admin/guide-incentives/records",
    summary="Reward records; ?format=csv exports",
    tags=["guide incentives"],
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
    cursor: PageCursor = None,
) -> Response[str]:
    principal = principal_of(app, CONSOLE)
    found = incentives.records(
        wiring.table(),
        wiring.payout_repository(),
        principal,
        guide_id=guide_id,
        outlet_id=outlet_id,
        rule_id=rule_id,
        status=status,
        since=query_instant(since, "from"),
        until=query_instant(until, "to"),
    )
    if format == "csv":
        columns = list(found[0].model_dump()) if found else ["reward_id"]
        return csv_response((r.model_dump() for r in found), columns, "guide-incentive-records.csv")
    import json

    page, next_cursor = page_of(found, limit, cursor)
    body = json.dumps(
        {
            "items": [r.model_dump() for r in page],
            "next_cursor": next_cursor,
            "overview": incentives.overview(found),
        },
        ensure_ascii=False,
    )
    return Response(200, "application/json", body)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
