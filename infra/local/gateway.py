"""The local API gateway: chalice's dev server, fronting the template's routes.

Chalice matches the route and reads the HTTP request; :class:`TemplateGateway` then builds
the complete API Gateway REST (v1 proxy) event the real handler expects, invokes it, and
hands its proxy response back to chalice to write out.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from chalice import Chalice
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalDevServer, ThreadedHTTPServer

from infra.local.config import ACCOUNT_ID
from infra.local.lambdas import Functions
from infra.local.template import Route

log = logging.getLogger("local.gateway")

API_ID = "local"
_request = threading.local()


class _RawHeadersHandler(ChaliceRequestHandler):
    """Keeps the request's headers as sent (case and repeats) for the event's two header maps."""

    stage_prefix = ""

    def _parse_payload(self) -> tuple[dict[str, Any], bytes | None]:
        _request.raw_headers = list(self.headers.items())
        # http.server decodes the request line as Latin-1; a client that sends raw UTF-8 (curl
        # does, for `?q=南山`) would reach the handler as mojibake. API Gateway reads the URL as
        # UTF-8, so read it back as such (percent-encoded octets are decoded as UTF-8 later).
        self.path = _as_utf8(self.path)
        # Deployed URLs carry the stage (/prod/...); accept them too, as Swagger UI's server URL does.
        if self.stage_prefix and (
            self.path == self.stage_prefix
            or self.path.startswith(self.stage_prefix + "/")
            or self.path.startswith(self.stage_prefix + "?")
        ):
            self.path = self.path[len(self.stage_prefix) :] or "/"
        return super()._parse_payload()  # type: ignore[no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


def _as_utf8(path: str) -> str:
    try:
        return path.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return path


def _internal_error() -> dict[str, Any]:
    return {
        "statusCode": 502,
        "headers": {"Content-Type": "application/json", "x-amzn-ErrorType": "InternalServerErrorException"},
        "multiValueHeaders": {},
        "body": '{"message": "Internal server error"}',
    }


def _missing_token() -> dict[str, Any]:
    return {
        "statusCode": 403,
        "headers": {
            "Content-Type": "application/json",
            "x-amzn-ErrorType": "MissingAuthenticationTokenException",
        },
        "multiValueHeaders": {},
        "body": '{"message":"Missing Authentication Token"}',
    }


def normalise_response(response: Any) -> dict[str, Any]:
    """A proxy response as chalice writes it: single headers, repeated ones, Content-Type once."""
    if not isinstance(response, dict) or "statusCode" not in response:
        log.error("handler returned a malformed proxy response: %r", response)
        return _internal_error()
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, values in (response.get("multiValueHeaders") or {}).items():
        multi[key] = [str(value) for value in values]
    for key, value in (response.get("headers") or {}).items():
        single[key] = str(value)
        multi.pop(key, None)
    for key in [k for k in [*single, *multi] if k.lower() == "content-type"]:
        value = single.pop(key, None) or multi.pop(key, [""])[-1]
        single["Content-Type"] = value
    return {
        "statusCode": int(response["statusCode"]),
        "headers": single,
        "multiValueHeaders": multi,
        "body": response.get("body"),
        "isBase64Encoded": bool(response.get("isBase64Encoded")),
    }


class TemplateGateway(Chalice):
    """A chalice app whose routes are the template's, each answered by the real Lambda handler."""

    def __init__(self, routes: list[Route], functions: Functions, stage: str, region: str) -> None:
        super().__init__(app_name="local-gateway")
        self._functions = functions
        self.stage = stage
        self._region = region
        self._targets: dict[tuple[str, str], str] = {}
        by_path: dict[str, list[str]] = {}
        for route in routes:
            self._targets[(route.path, route.method)] = route.function
            by_path.setdefault(route.path, []).append(route.method)
        for path, methods in by_path.items():
            self.route(path, methods=methods)(lambda: None)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        resource = event["requestContext"]["resourcePath"]
        method = event["requestContext"]["httpMethod"]
        function = self._targets.get((resource, method))
        if function is None:
            return _missing_token()
        proxy_event = self.build_event(event, getattr(_request, "raw_headers", None))
        try:
            return normalise_response(self._functions.invoke(function, proxy_event))
        except Exception:
            log.exception("%s raised", function)
            return _internal_error()

    def build_event(
        self, partial: dict[str, Any], raw_headers: list[tuple[str, str]] | None
    ) -> dict[str, Any]:
        """The REST API (v1) Lambda proxy event, complete, from what chalice parsed."""
        context = partial["requestContext"]
        path = context["path"]
        resource = context["resourcePath"]
        items = raw_headers if raw_headers is not None else list(partial["headers"].items())
        headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for name, value in items:
            headers[name] = value
            multi_headers.setdefault(name, []).append(value)
        multi_query = partial.get("multiValueQueryStringParameters")
        query = {key: values[-1] for key, values in multi_query.items()} if multi_query else None
        body = partial.get("body")
        is_base64 = bool(partial.get("isBase64Encoded"))
        if isinstance(body, bytes):
            try:
                body = body.decode("utf-8")
            except UnicodeDecodeError:
                body, is_base64 = base64.b64encode(body).decode("ascii"), True
        now = datetime.now(UTC)
        user_agent = next((value for name, value in items if name.lower() == "user-agent"), None)
        return {
            "resource": resource,
            "path": path,
            "httpMethod": context["httpMethod"],
            "headers": headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": partial.get("pathParameters") or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": ACCOUNT_ID,
                "apiId": API_ID,
                "domainName": f"{API_ID}.execute-api.{self._region}.amazonaws.com",
                "domainPrefix": API_ID,
                "extendedRequestId": str(uuid.uuid4()),
                "httpMethod": context["httpMethod"],
                "identity": {
                    "accessKey": None,
                    "accountId": None,
                    "caller": None,
                    "cognitoAuthenticationProvider": None,
                    "cognitoAuthenticationType": None,
                    "cognitoIdentityId": None,
                    "cognitoIdentityPoolId": None,
                    "principalOrgId": None,
                    "sourceIp": context["identity"]["sourceIp"],
                    "user": None,
                    "userAgent": user_agent,
                    "userArn": None,
                },
                "path": f"/{self.stage}{path}",
                "protocol": "HTTP/1.1",
                "requestId": str(uuid.uuid4()),
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": int(time.time() * 1000),
                "resourceId": uuid.uuid5(uuid.NAMESPACE_URL, resource).hex[:6],
                "resourcePath": resource,
                "stage": self.stage,
            },
            "body": body,
            "isBase64Encoded": is_base64,
        }


class _ManyClientsServer(ThreadedHTTPServer):
    """chalice's threaded server with a listen backlog of 128 rather than 5, so that many clients
    connecting at once are all served (with 5, the kernel resets some of their connections)."""

    request_queue_size = 128


class LocalGatewayServer:
    """The HTTP server thread; ``stop`` shuts it down from any other thread."""

    def __init__(self, app: TemplateGateway, host: str, port: int) -> None:
        handler = type("StageAwareHandler", (_RawHeadersHandler,), {"stage_prefix": f"/{app.stage}"})
        self._server = LocalDevServer(
            app,
            Config(chalice_stage="local", config_from_disk={}),
            host,
            port,
            handler_cls=handler,
            server_cls=_ManyClientsServer,
        )
        self._thread = threading.Thread(target=self._server.server.serve_forever, name="gateway", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server.server_close()
