"""A request whose transaction meets another in flight answers 503 with Retry-After, nothing written."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from incentives.api.errors import register_error_handlers
from incentives.storage.table import TransactionConflicted
from tests.support import api_event


def test_a_transaction_conflict_is_a_503_to_retry_not_a_500() -> None:
    app = APIGatewayRestResolver()
    register_error_handlers(app)

    @app.post("/withdraw")
    def withdraw() -> dict[str, Any]:
        raise TransactionConflicted([1])

    answer = app.resolve(api_event("POST", "/withdraw"), None)
    assert answer["statusCode"] == 503
    assert answer["multiValueHeaders"]["Retry-After"] == ["1"]
    assert json.loads(answer["body"])["error"]["code"] == "concurrent_modification"
