"""GET|POST /wechat-store/callback/{corp_id} — the tenant's WeChat Store message pushes (消息推送).

GET verifies the URL (``signature`` over token, timestamp, nonce) and echoes ``echostr``. POST
verifies ``msg_signature`` and the timestamp, decrypts, and queues the order's id for the sync
worker, answering ``success`` at once: the store never waits for ``order/get``. A repeated push
queues the same work again, which is harmless: the worker's events have deterministic ids.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from incentives.api.errors import register_error_handlers
from incentives.core.body import event_body
from incentives.core.clock import SystemClock
from incentives.core.errors import Unauthenticated
from incentives.runtime import aws
from incentives.runtime import wechat_store as store
from incentives.runtime.secrets import is_corp_id
from incentives.runtime.tracing import trace_handler, trace_method
from incentives.wechat_store.push import open_push, verify_url

logger = Logger(service="wechat-store-callback")
metrics = Metrics()
app = APIGatewayRestResolver()
register_error_handlers(app)
clock = SystemClock()


def _corp_id(corp_id: str) -> str:
    if not is_corp_id(corp_id):
        raise Unauthenticated("unknown tenant", field="corp_id")
    return corp_id


@app.get("/wechat-store/callback/<corp_id>")
def verify(corp_id: str) -> Response[str]:
    query = dict(app.current_event.query_string_parameters or {})
    echo = verify_url(store.push_credentials(_corp_id(corp_id)), query, clock.now())
    return Response(200, content_types.TEXT_PLAIN, echo)


@app.post("/wechat-store/callback/<corp_id>")
@trace_method
def receive(corp_id: str) -> Response[str]:
    event = app.current_event
    body = event_body(event.body, bool(event.is_base64_encoded))
    query = dict(event.query_string_parameters or {})
    message = open_push(store.push_credentials(_corp_id(corp_id)), query, body, clock.now())
    if message is not None:
        work = {
            "corp_id": corp_id,
            "order_id": message.order_id,
            "after_sale_order_id": message.after_sale_order_id,
            "event": message.event,
            "identity": message.identity,
        }
        aws.sqs().send_message(QueueUrl=store.queue_url(), MessageBody=json.dumps(work))
        metrics.add_metric(name="WeChatStorePushQueued", unit=MetricUnit.Count, value=1)
    logger.info(
        "wechat store push",
        extra={
            "corp_id": corp_id,
            "event": message.event if message else None,
            "queued": message is not None,
        },
    )
    return Response(200, content_types.TEXT_PLAIN, "success")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@trace_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
