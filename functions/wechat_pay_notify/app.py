"""POST /payments/wechat/notify[/{corp_id}] — WeChat Pay's result notifications of transfer bills.

The tenant is the path's ``corp_id`` (what each tenant configures as ``notify_url``: WeChat Pay
accepts no query string there), else ``?corp_id=``, else the default tenant. The notification is
verified with the tenant's WeChat Pay public key (and a timestamp window), decrypted with its
APIv3 key and applied to the payout it names, idempotently. Handled (or a genuine event of
another kind): 204 with no body. Refused: 4xx / 5xx with ``{"code": "FAIL", "message": …}``, the
shape WeChat Pay reads, and nothing changed; WeChat Pay sends a genuine notification again.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from incentives.api.errors import status_for
from incentives.core.clock import SystemClock
from incentives.core.errors import DomainError, NotFound
from incentives.payouts import pipeline
from incentives.payouts.wechat_notify import open_notice
from incentives.runtime import wiring
from incentives.runtime.settings import settings
from incentives.runtime.tracing import trace_handler, trace_method

logger = Logger(service="wechat-notify")
metrics = Metrics()
app = APIGatewayRestResolver()
clock = SystemClock()


def _refused(status: int, message: str) -> Response[str]:
    body = json.dumps({"code": "FAIL", "message": message}, ensure_ascii=False)
    return Response(status, content_types.APPLICATION_JSON, body)


@app.exception_handler(DomainError)
def _domain_error(error: DomainError) -> Response[str]:
    logger.warning("wechat pay notification refused", extra={"code": error.code, "reason": error.message})
    return _refused(status_for(error).value, error.message)


@app.not_found
def _no_route(_: Exception) -> Response[str]:
    return _refused(404, "no such route")


def _receive(corp_id: str) -> Response[str]:
    event = app.current_event
    body = base64.b64decode(event.body or "") if event.is_base64_encoded else (event.body or "").encode()
    now = clock.now()
    notice = open_notice(
        dict(event.headers or {}), body, wiring.wechat_pay_notify_keys(corp_id), now.timestamp()
    )
    if notice is None:
        logger.info("wechat pay notification of another kind acknowledged", extra={"corp_id": corp_id})
        return Response(204, None, None)
    payout = pipeline.apply_transfer_notice(
        wiring.payout_repository(),
        corp_id,
        notice.out_bill_no,
        notice.result(),
        amount_fen=notice.transfer_amount,
        openid=notice.openid,
        now=now,
    )
    logger.info(
        "wechat pay notification applied",
        extra={
            "corp_id": corp_id,
            "payout_id": payout.payout_id,
            "state": notice.state,
            "status": payout.status,
        },
    )
    metrics.add_metric(name=f"TransferNotice{notice.state.title()}", unit=MetricUnit.Count, value=1)
    return Response(204, None, None)


@app.post("/payments/wechat/notify")
@trace_method
def receive_for_query_tenant() -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    return _receive(query.get("corp_id") or settings().default_corp_id)


@app.post("/payments/wechat/notify/<corp_id>")
@trace_method
def receive_for_path_tenant(corp_id: str) -> Response[str]:
    if not corp_id or len(corp_id) > 64:
        raise NotFound("no such tenant", field="corp_id")
    return _receive(corp_id)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@trace_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
