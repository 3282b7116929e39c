"""POST /webhooks/orders — the merchant's order / member system (SPEC §3.2).

Verify, validate, keep the raw event, enqueue, answer 202: two AWS calls, nothing slow (three for a
body too large for one queue message: its chunks are written too, ``incentives.events.intake``).
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
from incentives.events.intake import keep_and_enqueue, verify_delivery
from incentives.runtime import wiring
from incentives.runtime.secrets import SecretPurpose, tenant_secret
from incentives.runtime.settings import settings
from incentives.runtime.tracing import trace_handler, trace_method

logger = Logger(service="order-webhook")
metrics = Metrics()
app = APIGatewayRestResolver()
register_error_handlers(app)
clock = SystemClock()


@app.post("/webhooks/orders")
@trace_method
def receive_order_event() -> Response[dict[str, Any]]:
    event = app.current_event
    raw_body = event_body(event.body, bool(event.is_base64_encoded))
    delivery = verify_delivery(
        dict(event.headers or {}),
        raw_body,
        clock.now(),
        settings().default_corp_id,
        lambda corp_id: tenant_secret(corp_id, SecretPurpose.WEBHOOK).get("order_webhook_secret"),
    )
    answer, first_delivery = keep_and_enqueue(
        delivery, wiring.raw_event_store(), wiring.body_chunk_store(), wiring.event_queue(), clock.now()
    )
    logger.info(
        "webhook event accepted",
        extra={"event_id": answer["event_id"], "type": answer["type"], "first_delivery": first_delivery},
    )
    metrics.add_metric(name="WebhookEventAccepted", unit=MetricUnit.Count, value=1)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=answer)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@trace_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
