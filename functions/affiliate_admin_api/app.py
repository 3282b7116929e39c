"""The affiliate console under /admin/affiliates: settings, affiliates, applications,
withdrawals, commission records, levels (seed 001 微客管理, seed 003 推广员后台).

Bearer JWT with role ``admin``: affiliates belong to no department, so the program is run
by the tenant's admins (operators' scopes are department subtrees). One Powertools ``Router``
per area (``routes/``), included here. Swagger UI: GET /admin/affiliates/swagger.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from routes import ADMINS, affiliates, applications, commissions, levels, program, withdrawals

from incentives.api.app import create_api
from incentives.runtime import wiring
from incentives.runtime.tracing import trace_handler

logger = Logger(service="affiliate-admin-api")
metrics = Metrics()
app = create_api(
    "admin/affiliates",
    "Incentives — affiliate console API",
    "Affiliate program settings, levels, affiliates, applications, withdrawals and commission records.",
    ADMINS,
    api_secret=wiring.api_jwt_secret,
)
for area in (program, applications, withdrawals, commissions, levels, affiliates):
    app.include_router(area.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@trace_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
