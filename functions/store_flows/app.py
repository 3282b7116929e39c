"""Daily at 10:00 Asia/Shanghai (02:00 UTC): pull the previous day's funds flows of every tenant's
WeChat Store, once the platform has published them.

Unreadable records are quarantined with their reason (and counted: ``WeChatStoreFlowsQuarantined``),
never a crash; a tenant whose store API fails keeps its other days and is tried again next run.
The scheduled event's ``time`` is the clock (``python -m infra.local fire StoreFlowsFunction --at …``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from incentives.core.clock import local_date
from incentives.core.errors import UpstreamError
from incentives.runtime import wechat_store as store
from incentives.runtime.secrets import SecretPurpose, tenants_with
from incentives.runtime.settings import settings
from incentives.runtime.tracing import trace_handler
from incentives.wechat_store.sync import pull_flows

logger = Logger(service="wechat-store-flows")
metrics = Metrics()


@logger.inject_lambda_context
@trace_handler
@metrics.log_metrics
@event_parser(model=EventBridgeModel)
def lambda_handler(event: EventBridgeModel, context: LambdaContext) -> dict[str, Any]:
    time_zone = settings().time_zone
    day = local_date(event.time, time_zone) - timedelta(days=1)
    results: dict[str, Any] = {}
    for corp_id in tenants_with(SecretPurpose.WECHAT_STORE):
        try:
            pulled = pull_flows(store.store_client(corp_id), store.records(), corp_id, day, time_zone)
        except UpstreamError as failure:
            logger.error(
                "funds flows not pulled",
                extra={"corp_id": corp_id, "reason": failure.message, **failure.details()},
            )
            metrics.add_metric(name="WeChatStoreFlowPullFailures", unit=MetricUnit.Count, value=1)
            results[corp_id] = {"failed": failure.message}
            continue
        if pulled.quarantined:
            logger.warning("funds flows quarantined", extra=vars(pulled))
        metrics.add_metric(name="WeChatStoreFlowsPulled", unit=MetricUnit.Count, value=pulled.flows)
        metrics.add_metric(
            name="WeChatStoreFlowsQuarantined", unit=MetricUnit.Count, value=pulled.quarantined
        )
        results[corp_id] = vars(pulled)
    return {"day": day.isoformat(), "tenants": results}
