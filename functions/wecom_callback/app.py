"""GET|POST /wecom/callback — WeCom's callback channel (SPEC §3.1).

GET verifies the URL and answers the bare echostr plaintext. POST verifies and decrypts the
event, queues it and answers ``success`` at once; the slow work (WeCom API calls, welcome
messages) happens in the event processor, so WeCom never waits and never retries for our sake.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from incentives.api.errors import register_error_handlers
from incentives.core.body import event_body
from incentives.core.clock import SystemClock
from incentives.runtime import wiring
from incentives.runtime.settings import settings
from incentives.runtime.tracing import trace_handler, trace_method
from incentives.wecom.callback import is_handled, open_envelope

logger = Logger(service="wecom-callback")
metrics = Metrics()
app = APIGatewayRestResolver()
register_error_handlers(app)
clock = SystemClock()


@app.get("/wecom/callback")
def verify_url() -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    corp_id = query.get("corp_id") or settings().default_corp_id
    crypto = wiring.callback_crypto(corp_id)
    crypto.verify(
        query.get("msg_signature"), query.get("timestamp"), query.get("nonce"), query.get("echostr")
    )
    return Response(200, content_types.TEXT_PLAIN, crypto.decrypt(query.get("echostr") or ""))


@app.post("/wecom/callback")
@trace_method
def receive_event() -> Response[str]:
    event = app.current_event
    body = event_body(event.body, bool(event.is_base64_encoded))
    callback, identity = open_envelope(
        body, dict(event.query_string_parameters or {}), wiring.callback_crypto
    )
    if is_handled(callback):
        wiring.event_queue().send([wiring.wecom_callback_event(callback, identity, clock.now())])
        metrics.add_metric(name="WeComCallbackQueued", unit=MetricUnit.Count, value=1)
    logger.info(
        "wecom callback",
        extra={
            "event": callback.event,
            "change_type": callback.change_type,
            "identity": identity,
            "queued": is_handled(callback),
        },
    )
    return Response(200, content_types.TEXT_PLAIN, "success")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@trace_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
