"""The local gateway builds the API Gateway REST (v1) proxy event AWS documents, field by field.

The reference is the sample under events/order_webhook/, which has the shape that
``sam local generate-event apigateway aws-proxy`` and API Gateway produce.
"""

from __future__ import annotations

import base64
import http.client
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from infra.local.gateway import LocalGatewayServer, TemplateGateway
from infra.local.template import Route
from tests.support import free_port, sample


class CapturingFunctions:
    """Stands in for the handlers: records each event and answers with a fixed proxy response."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.response: dict[str, Any] = {
            "statusCode": 200,
            "body": "{}",
            "headers": {"Content-Type": "application/json"},
        }

    def invoke(self, name: str, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        if isinstance(self.response, Exception):
            raise self.response
        return self.response


@pytest.fixture
def gateway() -> Iterator[tuple[str, CapturingFunctions]]:
    functions = CapturingFunctions()
    routes = [
        Route("Webhook", "/webhooks/orders", "POST"),
        Route("Payouts", "/admin/payouts/{payout_id}", "GET"),
    ]
    port = free_port()
    server = LocalGatewayServer(
        TemplateGateway(routes, functions, "prod", "ap-southeast-1"),
        "127.0.0.1",
        port,  # type: ignore[arg-type]
    )
    server.start()
    yield f"http://127.0.0.1:{port}", functions
    server.stop()


def _shape(value: Any) -> Any:
    """Keys and value types, recursively; header and query maps compared by their own tests."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    return type(value).__name__


def test_the_event_has_every_field_of_the_documented_shape(gateway: tuple[str, CapturingFunctions]) -> None:
    url, functions = gateway
    reference = sample("order_webhook/order_paid")
    requests.post(
        f"{url}/webhooks/orders",
        data=reference["body"].encode(),
        headers={"Content-Type": "application/json", "User-Agent": "order-system/2.4"},
        timeout=5,
    )
    [event] = functions.events
    assert sorted(event) == sorted(reference)
    assert sorted(event["requestContext"]) == sorted(reference["requestContext"])
    assert sorted(event["requestContext"]["identity"]) == sorted(reference["requestContext"]["identity"])
    for key in ("resource", "path", "httpMethod", "body", "isBase64Encoded"):
        assert event[key] == reference[key], key
    for key in ("resourcePath", "httpMethod", "path", "stage", "protocol"):
        assert event["requestContext"][key] == reference["requestContext"][key], key
    shape, expected = _shape(event["requestContext"]), _shape(reference["requestContext"])
    for key in (
        "accountId",
        "apiId",
        "domainName",
        "requestId",
        "requestTime",
        "requestTimeEpoch",
        "resourceId",
    ):
        assert shape[key] == expected[key], key
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert event["requestContext"]["identity"]["userAgent"] == "order-system/2.4"
    assert event["queryStringParameters"] is None and event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None and event["stageVariables"] is None


def test_each_request_gets_its_own_request_id(gateway: tuple[str, CapturingFunctions]) -> None:
    url, functions = gateway
    for _ in range(2):
        requests.post(f"{url}/webhooks/orders", data=b"{}", timeout=5)
    first, second = (event["requestContext"]["requestId"] for event in functions.events)
    assert first != second


def test_query_strings_come_single_and_multi_valued(gateway: tuple[str, CapturingFunctions]) -> None:
    url, functions = gateway
    requests.get(f"{url}/admin/payouts/p-42?status=failed&status=queued&limit=5", timeout=5)
    [event] = functions.events
    assert event["resource"] == "/admin/payouts/{payout_id}"
    assert event["path"] == "/admin/payouts/p-42"
    assert event["pathParameters"] == {"payout_id": "p-42"}
    assert event["multiValueQueryStringParameters"] == {"status": ["failed", "queued"], "limit": ["5"]}
    assert event["queryStringParameters"] == {
        "status": "queued",
        "limit": "5",
    }  # the last value, as API Gateway


def test_a_raw_utf8_query_string_arrives_decoded_as_utf8(gateway: tuple[str, CapturingFunctions]) -> None:
    url, functions = gateway
    port = int(url.rsplit(":", 1)[1])
    # Raw UTF-8 octets in the request line, as curl sends `?q=南山`; then the percent-encoded form.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(
            "GET /admin/payouts/p-1?q=南山 HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n".encode()
        )
        while connection.recv(4096):
            pass
    requests.get(f"{url}/admin/payouts/p-1", params={"q": "南山"}, timeout=5)
    raw, encoded = functions.events
    for event in (raw, encoded):
        assert event["queryStringParameters"] == {"q": "南山"}
        assert event["multiValueQueryStringParameters"] == {"q": ["南山"]}


def test_headers_keep_their_case_and_repeats(gateway: tuple[str, CapturingFunctions]) -> None:
    url, functions = gateway
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=5)
    connection.putrequest("POST", "/webhooks/orders")
    for value in ("a", "b"):
        connection.putheader("X-Trace", value)
    connection.putheader("Content-Length", "2")
    connection.endheaders(b"{}")
    connection.getresponse().read()
    connection.close()
    [event] = functions.events
    assert event["multiValueHeaders"]["X-Trace"] == ["a", "b"]
    assert event["headers"]["X-Trace"] == "b"


def test_a_binary_body_arrives_base64_encoded(gateway: tuple[str, CapturingFunctions]) -> None:
    url, functions = gateway
    payload = bytes(range(256))
    requests.post(
        f"{url}/webhooks/orders",
        data=payload,
        headers={"Content-Type": "application/octet-stream"},
        timeout=5,
    )
    [event] = functions.events
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_a_body_as_large_as_the_webhook_takes_arrives_whole(gateway: tuple[str, CapturingFunctions]) -> None:
    """The local gateway has no body limit below the webhook's own (API Gateway's is 10 MB)."""
    from incentives.events.intake import MAX_BODY_BYTES

    url, functions = gateway
    payload = ('{"note": "' + "价" * ((MAX_BODY_BYTES - 12) // 3) + '"}').encode()
    assert MAX_BODY_BYTES - 3 < len(payload) <= MAX_BODY_BYTES
    response = requests.post(
        f"{url}/webhooks/orders", data=payload, headers={"Content-Type": "application/json"}, timeout=60
    )
    assert response.status_code == 200
    [event] = functions.events
    assert event["isBase64Encoded"] is False
    assert event["body"].encode() == payload


def test_the_proxy_response_is_returned_faithfully(gateway: tuple[str, CapturingFunctions]) -> None:
    url, functions = gateway
    functions.response = {
        "statusCode": 409,
        "body": '{"error": {"code": "conflict"}}',
        "multiValueHeaders": {"Content-Type": ["application/json"], "Set-Cookie": ["a=1", "b=2"]},
        "headers": {"X-Request-Id": "r-1"},
    }
    response = requests.post(f"{url}/webhooks/orders", data=b"{}", timeout=5)
    assert response.status_code == 409
    assert response.json() == {"error": {"code": "conflict"}}
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Request-Id"] == "r-1"
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]


def test_a_base64_response_is_decoded_on_the_wire(gateway: tuple[str, CapturingFunctions]) -> None:
    url, functions = gateway
    functions.response = {
        "statusCode": 200,
        "isBase64Encoded": True,
        "body": base64.b64encode(b"\x00\x01").decode(),
        "headers": {"Content-Type": "application/octet-stream"},
    }
    assert requests.post(f"{url}/webhooks/orders", data=b"{}", timeout=5).content == b"\x00\x01"


def test_a_handler_that_raises_is_a_502(gateway: tuple[str, CapturingFunctions]) -> None:
    url, functions = gateway
    functions.response = RuntimeError("boom")  # type: ignore[assignment]
    response = requests.post(f"{url}/webhooks/orders", data=b"{}", timeout=5)
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


def test_an_unknown_route_or_method_is_403_missing_token(gateway: tuple[str, CapturingFunctions]) -> None:
    url, functions = gateway
    assert requests.get(f"{url}/nowhere", timeout=5).status_code == 403
    response = requests.get(f"{url}/webhooks/orders", timeout=5)
    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}
    assert functions.events == []


def test_a_path_with_the_stage_prefix_is_served_too(gateway: tuple[str, CapturingFunctions]) -> None:
    """Deployed URLs (and Swagger UI's server URL) carry the stage: /prod/admin/..."""
    url, functions = gateway
    requests.get(f"{url}/prod/admin/payouts/p-1?x=1", timeout=5)
    [event] = functions.events
    assert (
        event["path"] == "/admin/payouts/p-1" and event["requestContext"]["path"] == "/prod/admin/payouts/p-1"
    )
    assert event["queryStringParameters"] == {"x": "1"}
