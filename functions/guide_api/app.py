"""The guide mini-program API under /guide: the active incentive programs and a guide's own
rewards (seed 000), a guide's own customers and their tags (seed 002).

Of a customer's tags, a guide sees those visible to guides now (tag and group); relations to
hidden tags are kept and show again once the tag is visible again.

Bearer JWT with role ``guide`` (``sub`` = the guide's WeCom userid). A guide sees and
changes only their own customers, only within the permissions the operators set.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from incentives.api.app import (
    ListingCursor,
    RecordPageSize,
    create_api,
    cursor_checked,
    list_page,
    listed,
    principal_of,
    query_instant,
)
from incentives.api.views.guides import CustomerTags, CustomerView, GuideIncentives
from incentives.core.access import Principal, Role
from incentives.core.clock import SystemClock
from incentives.guides import service as incentives
from incentives.guides.service import RewardRecord
from incentives.org import customers
from incentives.org.permissions import customer_view, load_permissions
from incentives.runtime import wiring
from incentives.runtime.settings import settings
from incentives.runtime.tracing import trace_handler
from incentives.tags.service import TagView, guide_tag_ids, list_tags, mark_customer_tags

logger = Logger(service="guide-api")
metrics = Metrics()
clock = SystemClock()
GUIDES = (Role.GUIDE,)
app = create_api(
    "guide",
    "Incentives — guide mini-program API",
    "A guide's customers, tags and earnings.",
    GUIDES,
    api_secret=wiring.api_jwt_secret,
)


class TagChange(BaseModel):
    add: list[str] = Field(default_factory=list, max_length=50)
    remove: list[str] = Field(default_factory=list, max_length=50)


def _own_customer(principal: Principal, customer_id: str) -> dict[str, Any]:
    return customers.own_customer(wiring.org_repository(), principal, customer_id)


@app.get("/guide/customers", summary="My customers, newest first", tags=["customers"])
def my_customers() -> list[CustomerView]:
    principal = principal_of(app, GUIDES)
    permissions = load_permissions(wiring.org_repository(), principal.corp_id)
    shown = guide_tag_ids(wiring.tag_repository(), principal.corp_id)
    return [
        customer_view(c, permissions, shown)
        for c in customers.my_customers(wiring.org_repository(), principal)
    ]


@app.get("/guide/customers/<customer_id>", summary="One of my customers", tags=["customers"])
def my_customer(customer_id: Annotated[str, Path(max_length=128)]) -> CustomerView:
    principal = principal_of(app, GUIDES)
    return customer_view(
        _own_customer(principal, customer_id),
        load_permissions(wiring.org_repository(), principal.corp_id),
        guide_tag_ids(wiring.tag_repository(), principal.corp_id),
    )


@app.patch("/guide/customers/<customer_id>", summary="Edit the attributes I may edit", tags=["customers"])
def edit_customer(customer_id: Annotated[str, Path(max_length=128)], changes: dict[str, str]) -> CustomerView:
    principal = principal_of(app, GUIDES)
    edited = customers.edit_customer(wiring.org_repository(), principal, customer_id, changes, clock.now())
    return customer_view(
        edited,
        load_permissions(wiring.org_repository(), principal.corp_id),
        guide_tag_ids(wiring.tag_repository(), principal.corp_id),
    )


@app.get("/guide/tags", summary="Tags I may put on customers", tags=["tags"])
def visible_tags() -> list[TagView]:
    principal = principal_of(app, GUIDES)
    return list_tags(wiring.tag_repository(), principal.corp_id, visible_only=True)


@app.post("/guide/customers/<customer_id>/tags", summary="Add or remove visible tags", tags=["tags"])
def tag_customer(customer_id: Annotated[str, Path(max_length=128)], change: TagChange) -> CustomerTags:
    principal = principal_of(app, GUIDES)
    customer = _own_customer(principal, customer_id)
    tags = mark_customer_tags(
        wiring.tag_repository(),
        wiring.wecom_client(principal.corp_id),
        principal.corp_id,
        principal.subject,
        customer,
        change.add,
        change.remove,
        clock.now(),
    )
    shown = guide_tag_ids(wiring.tag_repository(), principal.corp_id)
    return CustomerTags(customer_id=customer_id, tag_ids=[t for t in tags if t in shown])


@app.get("/guide/incentives", summary="Active programs, their rules, my earnings", tags=["incentives"])
def my_incentives() -> GuideIncentives:
    principal = principal_of(app, GUIDES)
    now = clock.now()
    rules = [
        rule
        for rule in incentives.list_rules(wiring.guide_repository(), principal.corp_id, now)
        if rule.enabled
    ]
    earned = incentives.maintained_earnings(
        wiring.guide_repository(), principal.corp_id, principal.subject, now, settings().time_zone
    )
    return GuideIncentives(
        programs=rules,
        this_month_fen=earned.this_month_fen,
        total_fen=earned.total_fen,
        carried_fen=incentives.carried(wiring.guide_repository(), principal.corp_id, principal.subject),
    )


@app.get(
    "/guide/rewards",
    summary="My reward records, newest first, paged",
    tags=["incentives"],
    responses=listed(list[RewardRecord]),
)
def my_rewards(
    type: Annotated[
        str | None, Query(max_length=80, description="A rule behavior, e.g. new_customer")
    ] = None,
    paid_from: Annotated[str | None, Query(description="RFC 3339")] = None,
    paid_to: Annotated[str | None, Query(description="RFC 3339")] = None,
    limit: RecordPageSize = 50,
    cursor: ListingCursor = None,
) -> Response[list[RewardRecord]]:
    principal = principal_of(app, GUIDES)
    query = incentives.RecordQuery(
        behavior=type,
        paid_since=query_instant(paid_from, "paid_from"),
        paid_until=query_instant(paid_to, "paid_to"),
        only_guide=principal.subject,
    )
    with cursor_checked():
        page, next_cursor = incentives.records_page(
            wiring.guide_repository(), wiring.payout_repository(), principal, query, limit, cursor
        )
    return list_page(page, next_cursor)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@trace_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
