"""Operator console API under /admin (SPEC §3.3): payouts, organization, tags, guide incentives.

Bearer JWT (admin or operator). Operators read only their departments' subtrees; every write
authorizes through ``incentives.api.scope`` (data nodes for operators' changes, admins only for
the tenant's settings). One Powertools ``Router`` per area (``routes/``), included here; the
resolver's gate, validation and error mapping apply to every route. OpenAPI document and
Swagger UI: GET /admin/swagger (``?format=json``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from routes import guide_incentives, org, payouts, tags

from incentives.api.app import create_api
from incentives.api.scope import CONSOLE
from incentives.runtime import wiring
from incentives.runtime.tracing import trace_handler

logger = Logger(service="admin-api")
metrics = Metrics()

app = create_api(
    "admin",
    "Incentives — operator console API",
    "Payouts, organization, tags and guide incentives of a tenant. Operators see their departments' "
    "subtrees; their changes name a `data_node` when they are on several data nodes.",
    CONSOLE,
    api_secret=wiring.api_jwt_secret,
)
for area in (payouts, org, tags, guide_incentives):
    app.include_router(area.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@trace_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
