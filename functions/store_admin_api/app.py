"""The WeChat Store console under /admin/wechat-store: what the connector read, the funds flows it
pulled (quarantined records with their reasons), and the fee reconciliation per order.

Bearer JWT with role ``admin``: the store's fees belong to the tenant, not to a department.
One Powertools ``Router`` (``routes/store.py``). Swagger UI: GET /admin/wechat-store/swagger.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from routes import ADMINS, store

from incentives.api.app import create_api
from incentives.runtime import wiring
from incentives.runtime.tracing import trace_handler

logger = Logger(service="wechat-store-admin-api")
metrics = Metrics()
app = create_api(
    "admin/wechat-store",
    "Incentives — WeChat Store console API",
    "What the WeChat Store connector read, the funds flows it pulled, and the fee reconciliation per order.",
    ADMINS,
    api_secret=wiring.api_jwt_secret,
)
app.include_router(store.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@trace_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
