"""Organization: the WeCom sync, the department tree, outlets and their Contact-Me codes, guides'
welcome messages, the intermediate level's data nodes, and what guides see of customers."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, Field

from incentives.api.app import principal_of
from incentives.api.errors import wecom_responses
from incentives.api.scope import CONSOLE, NodeChoice, admin_only, authorize_write
from incentives.api.views.console import GuideWelcome
from incentives.core.clock import SystemClock, iso_utc
from incentives.messages.internal import OrgSyncRequested, OrgSyncRequestedEvent
from incentives.messages.queued import QueuedEvent
from incentives.org.chart import DepartmentNodeView, org_chart
from incentives.org.data_nodes import LevelsView, OrgLevels, add_node, levels_view, remove_node, save_levels
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
from incentives.runtime import wiring

router = Router()
logger = Logger(service="admin-api", child=True)
clock = SystemClock()


class ContactWayRequest(NodeChoice):
    welcome_message: str | None = Field(default=None, max_length=4000, description="Sent to each new contact")


class WelcomeRequest(NodeChoice):
    text: str = Field(min_length=1, max_length=4000)


class NodeRequest(BaseModel):
    dept_id: str = Field(min_length=1, max_length=32, description="A department of the organization")


@router.post(
    "/admin/org/sync",
    summary="Synchronise departments, outlets and guides from WeCom, in the background",
    description="Answers 202 with the sync status at once; follow it with GET /admin/org/sync.",
    tags=["org"],
    responses={202: {"description": "Queued", "content": {"application/json": {"model": SyncStatus}}}},
)
def sync_org() -> Response[SyncStatus]:
    principal = admin_only(router)
    now = clock.now()
    status = request_sync(wiring.org_repository(), principal.corp_id, principal.subject, now)
    request = OrgSyncRequested(requested_by=principal.subject, requested_at=now)
    event = OrgSyncRequestedEvent(
        event_id=f"org-sync-{iso_utc(now)}", type="org.sync_requested", occurred_at=now, data=request
    )
    wiring.event_queue().send([QueuedEvent(corp_id=principal.corp_id, received_at=now, event=event)])
    logger.info("organization sync queued", extra={"by": principal.subject})
    return Response(202, content_types.APPLICATION_JSON, status)


@router.get(
    "/admin/org/sync",
    summary="The organization sync: queued, running (with progress), finished or failed (with why)",
    tags=["org"],
)
def get_sync_status() -> SyncStatus:
    principal = admin_only(router)
    return sync_status(wiring.org_repository(), principal.corp_id, clock.now())


@router.get(
    "/admin/org/tree",
    summary="The department tree in the caller's scope, with counts; ?q= searches names",
    tags=["org"],
)
def get_org_tree(
    q: Annotated[str | None, Query(max_length=64, description="Part of a department's name")] = None,
) -> list[DepartmentNodeView]:
    principal = principal_of(router, CONSOLE)
    return org_chart(wiring.org_repository(), principal, q)


@router.get("/admin/outlets", summary="Outlets with guide and customer counts", tags=["org"])
def get_outlets(
    q: Annotated[str | None, Query(max_length=64, description="Part of the outlet name")] = None,
    subtree: Annotated[
        list[str] | None, Query(description="Department ids; outlets under any of them")
    ] = None,
) -> list[OutletView]:
    principal = principal_of(router, CONSOLE)
    return list_outlets(wiring.org_repository(), principal, q, subtree or ())


@router.post(
    "/admin/outlets/<outlet_id>/contact-way",
    summary="Create the outlet's Contact-Me QR code",
    tags=["org"],
    responses=wecom_responses(ContactWayView),
)
def post_contact_way(
    outlet_id: Annotated[str, Path(max_length=32)], request: ContactWayRequest
) -> ContactWayView:
    org = wiring.org_repository()
    grant = authorize_write(
        router,
        wiring.table(),
        request.data_node,
        lambda principal: visible_outlet(org, principal, outlet_id)["path"],
    )
    return create_contact_way(
        org,
        wiring.wecom_client(grant.principal.corp_id),
        grant.principal,
        outlet_id,
        request.welcome_message,
        clock.now(),
        data_node=grant.data_node,
    )


@router.put(
    "/admin/guides/<user_id>/welcome-message", summary="A guide's default welcome message", tags=["org"]
)
def put_guide_welcome(user_id: Annotated[str, Path(max_length=64)], request: WelcomeRequest) -> GuideWelcome:
    org = wiring.org_repository()
    grant = authorize_write(
        router,
        wiring.table(),
        request.data_node,
        lambda principal: visible_guide(org, principal, user_id)["dept_path"],
    )
    set_guide_welcome(org, grant.principal, user_id, request.text)
    return GuideWelcome(user_id=user_id, welcome_message=request.text)


@router.get(
    "/admin/org/levels",
    summary="The intermediate level and its data nodes with names (an operator's: those in their subtrees)",
    tags=["org"],
)
def get_levels(
    q: Annotated[str | None, Query(max_length=64, description="Part of a data node's name")] = None,
) -> LevelsView:
    principal = principal_of(router, CONSOLE)
    return levels_view(wiring.org_repository(), principal, q)


@router.put("/admin/org/levels", summary="Name the intermediate level and pick its data nodes", tags=["org"])
def put_levels(levels: OrgLevels) -> OrgLevels:
    principal = admin_only(router)
    return save_levels(wiring.org_repository(), principal.corp_id, levels, clock.now())


@router.post("/admin/org/levels/nodes", summary="Add one department as a data node", tags=["org"])
def post_level_node(request: NodeRequest) -> LevelsView:
    principal = admin_only(router)
    add_node(wiring.org_repository(), principal.corp_id, request.dept_id, clock.now())
    return levels_view(wiring.org_repository(), principal)


@router.delete(
    "/admin/org/levels/nodes/<dept_id>",
    summary="Remove one data node (its operators keep read-only access to history)",
    tags=["org"],
)
def delete_level_node(dept_id: Annotated[str, Path(max_length=32)]) -> LevelsView:
    principal = admin_only(router)
    remove_node(wiring.org_repository(), principal.corp_id, dept_id, clock.now())
    return levels_view(wiring.org_repository(), principal)


@router.get("/admin/guide-permissions", summary="What guides see and edit of customers", tags=["org"])
def get_permissions() -> GuidePermissions:
    principal = principal_of(router, CONSOLE)
    return load_permissions(wiring.org_repository(), principal.corp_id)


@router.put("/admin/guide-permissions", summary="Set what guides see and edit of customers", tags=["org"])
def put_permissions(permissions: GuidePermissions) -> GuidePermissions:
    principal = admin_only(router)
    return save_permissions(wiring.org_repository(), principal.corp_id, permissions)
