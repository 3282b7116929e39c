"""Daily at 00:00 Asia/Shanghai (16:00 UTC): synchronise every tenant's organization from WeCom.

A tenant whose WeCom answers an error (busy, rate limited, no permission …) keeps its stored
organization unchanged; the failure is recorded on its sync status, logged and counted
(``OrgSyncFailures``), the other tenants are still synchronised, and the next run tries again.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from incentives.core.errors import UpstreamError
from incentives.org.service import sync_organization
from incentives.runtime import wiring
from incentives.runtime.secrets import SecretPurpose, tenants_with
from incentives.runtime.tracing import trace_handler

logger = Logger(service="org-sync")
metrics = Metrics()


@logger.inject_lambda_context
@trace_handler
@metrics.log_metrics
@event_parser(model=EventBridgeModel)
def lambda_handler(event: EventBridgeModel, context: LambdaContext) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for corp_id in tenants_with(SecretPurpose.WECOM_APP):
        try:
            result = sync_organization(
                wiring.org_repository(), wiring.wecom_client(corp_id), event.time, logger.info
            )
        except UpstreamError as failure:
            logger.error(
                "organization sync failed; the next run tries again",
                extra={
                    "corp_id": corp_id,
                    "code": failure.code,
                    "reason": failure.message,
                    **failure.details(),
                },
            )
            metrics.add_metric(name="OrgSyncFailures", unit=MetricUnit.Count, value=1)
            results[corp_id] = {"failed": failure.message, **failure.details()}
            continue
        logger.info("organization synced", extra={"corp_id": corp_id, **vars(result)})
        metrics.add_metric(
            name="OrgItemsWritten", unit=MetricUnit.Count, value=result.written + result.removed
        )
        results[corp_id] = vars(result)
    return results
