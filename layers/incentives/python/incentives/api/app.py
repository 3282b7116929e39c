"""The one way to build an HTTP API function: Powertools' REST resolver with validation,
the shared error mapping, bearer authentication, and the OpenAPI document / Swagger UI.

Every request passes, in this order: authentication and the API's roles (401, 403), the
body's size, media type and encoding (413, 415, 400), Powertools' request validation against
the route's typed parameters and body (400 naming the exact field), the handler, and
Powertools' response validation. Powertools' own ``enable_validation=True`` would validate
before every middleware, so a request without a token would learn the schema's field errors;
the resolver gets the same two validation middlewares explicitly, after the gate.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.event_handler.middlewares import BaseMiddlewareHandler, NextMiddleware
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
    OpenAPIResponseValidationMiddleware,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import Components, HTTPBearer, OpenAPI, Schema
from aws_lambda_powertools.event_handler.openapi.models import Response as OpenAPIResponse
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse as ResponseSpec
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponseHeader

from incentives.api.errors import ErrorAnswer, error_response, register_error_handlers
from incentives.core.access import Principal, Role, authenticate, require_role
from incentives.core.body import check_size, event_body, parse_json, utf8_text
from incentives.core.clock import parse_instant
from incentives.core.errors import InvalidInput, UnsupportedMediaType
from incentives.core.validation import invalid_input
from incentives.storage.sharded import BadCursor

API_VERSION = "1.0.0"
MAX_BODY_BYTES = 384 * 1024
"""The largest API body: under DynamoDB's 400 KB item, the most one request could store."""
PRINCIPAL = "principal"
"""The resolver context key of the authenticated caller."""
API_SECRET = "api_secret"
"""The resolver context key of the API's token keys (set by the gate on every request)."""
SecretOf = Callable[[str], str | None]
"""corp id → the key the tenant's API tokens are signed with (None: not configured)."""


ExportFormat = Annotated[str | None, Query(pattern="^(json|csv)$", description="csv exports every match")]
RecordPageSize = Annotated[int, Query(ge=1, le=500, description="Page size (JSON)")]
ListingCursor = Annotated[
    str | None, Query(max_length=4096, description="next_cursor of the previous page (opaque)")
]
"""The cursor of a listing read through its index (incentives.storage.sharded)."""


ERROR_RESPONSES: dict[HTTPStatus, str] = {
    HTTPStatus.BAD_REQUEST: "Invalid input: error.field names the exact field, error.message the problem",
    HTTPStatus.UNAUTHORIZED: "No valid bearer token (missing, malformed, expired, unknown tenant)",
    HTTPStatus.FORBIDDEN: "The token's role may not do this",
    HTTPStatus.NOT_FOUND: "No such item, or not one the caller may see",
    HTTPStatus.CONFLICT: "Contradicts what is recorded (state, a repeated id with other content, funds)",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: f"The body is larger than {MAX_BODY_BYTES} bytes",
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE: "The body is not application/json",
    HTTPStatus.SERVICE_UNAVAILABLE: "Busy with a concurrent change: send again after Retry-After seconds",
}
"""The error answers every operation documents (409 only those that change something)."""


class _Gate(BaseMiddlewareHandler[APIGatewayRestResolver]):
    """Who before what: the caller (401) and the API's roles (403), then the body's size (413),
    media type (415) and encoding (400). Only then may validation read the body."""

    def __init__(self, roles: Collection[Role], public_routes: Collection[str], api_secret: SecretOf) -> None:
        self._roles = tuple(roles)
        self._public = frozenset(public_routes)
        self._api_secret = api_secret

    def handler(self, app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
        app.context[API_SECRET] = self._api_secret
        if app.request.route not in self._public:
            app.context[PRINCIPAL] = require_role(_authenticate(app), self._roles)
        _check_body(app)
        return next_middleware(app)


def _authenticate(app: BaseRouter) -> Principal:
    return authenticate(app.current_event.headers.get("Authorization"), app.context[API_SECRET])


def _check_body(app: APIGatewayRestResolver) -> None:
    event = app.current_event
    raw = event_body(event.body, bool(event.is_base64_encoded))
    if not raw:
        return
    check_size(raw, MAX_BODY_BYTES)
    content_type = (event.headers.get("Content-Type") or "").strip()
    media_type, *parameters = content_type.split(";")
    charsets = {
        value.strip().strip('"').lower()
        for name, _, value in (parameter.partition("=") for parameter in parameters)
        if name.strip().lower() == "charset"
    }
    # Powertools reads a body as JSON when its Content-Type starts with "application/json" (as sent).
    if content_type and (media_type.strip() != "application/json" or not charsets <= {"utf-8", "utf8"}):
        raise UnsupportedMediaType(
            f"the body must be application/json in UTF-8, not {content_type[:100]!r}", field="Content-Type"
        )
    utf8_text(raw)


class _Api(APIGatewayRestResolver):
    """Powertools' REST resolver whose OpenAPI document lists the error answers really sent."""

    def get_openapi_schema(self, **kwargs: Any) -> OpenAPI:
        return with_error_responses(super().get_openapi_schema(**kwargs))


def with_error_responses(document: OpenAPI) -> OpenAPI:
    """Add the standard error answers (:data:`ERROR_RESPONSES`) to every operation of ``document``.

    Each is defined once under ``components.responses`` with the one error schema
    (:class:`~incentives.api.errors.ErrorAnswer`) and referenced by every operation; 409 only
    by those that change something. Powertools' validation schemas, for answers this API never
    sends (422), are left out.
    """
    components = document.components or Components()
    schemas = dict(components.schemas or {})
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(unused, None)
    error_schema = ErrorAnswer.model_json_schema(ref_template=SCHEMA_REF + "{model}")
    for name, definition in error_schema.pop("$defs", {}).items():
        schemas[name] = Schema.model_validate(definition)
    schemas[ErrorAnswer.__name__] = Schema.model_validate(error_schema)
    responses = dict(components.responses or {})
    for status, description in ERROR_RESPONSES.items():
        responses[_response_name(status)] = OpenAPIResponse.model_validate(
            _error_response(status, description)
        )
    document.components = components.model_copy(update={"schemas": schemas, "responses": responses})
    for path_item in (document.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(path_item, method, None)
            if operation is None:
                continue
            answers = dict(operation.responses or {})
            answers.pop(HTTPStatus.UNPROCESSABLE_ENTITY.value, None)
            for status in ERROR_RESPONSES:
                if status is not HTTPStatus.CONFLICT or method != "get":
                    answers[status.value] = {"$ref": f"#/components/responses/{_response_name(status)}"}
            operation.responses = answers
    return document


SCHEMA_REF = "#/components/schemas/"


def _response_name(status: HTTPStatus) -> str:
    return status.phrase.title().replace(" ", "")


def _error_response(status: HTTPStatus, description: str) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": SCHEMA_REF + ErrorAnswer.__name__}}},
    }
    if status is HTTPStatus.SERVICE_UNAVAILABLE:
        answer["headers"] = {"Retry-After": {"description": "Seconds", "schema": {"type": "integer"}}}
    return answer


def create_api(
    audience: str,
    title: str,
    description: str,
    roles: Collection[Role],
    public_routes: Collection[str] = (),
    *,
    api_secret: SecretOf,
) -> APIGatewayRestResolver:
    """A resolver for ``/<audience>/…`` routes, used by ``roles``; Swagger UI at ``/<audience>/swagger``.

    Handlers narrow the roles per route with :func:`principal_of`. ``public_routes`` need no
    token (sign-in issues them); their bodies are checked like any other. ``api_secret``: corp
    id → the tenant's token key, given by the function from the composition root
    (``runtime.wiring.api_jwt_secret``): this package reads no secrets itself.
    """
    swagger = f"/{audience}/swagger"
    app = _Api(json_body_deserializer=parse_json)
    register_error_handlers(app)

    def _invalid_request(error: RequestValidationError) -> Response[str]:
        details = error.errors()
        reads_body = any(tuple(detail.get("loc", ()))[:1] == ("body",) for detail in details)
        return error_response(invalid_input(details, app.current_event.json_body if reads_body else None))

    app.exception_handler(RequestValidationError)(_invalid_request)
    app.use(
        [
            _Gate(roles, public_routes=(swagger, *public_routes), api_secret=api_secret),
            OpenAPIRequestValidationMiddleware(),  # type: ignore[no-untyped-call]
            OpenAPIResponseValidationMiddleware(),
        ]
    )
    app.enable_swagger(
        path=swagger,
        title=title,
        description=description,
        version=API_VERSION,
        security_schemes={"bearer": HTTPBearer(bearerFormat="JWT")},
        security=[{"bearer": []}],
    )
    return app


def principal_of(app: BaseRouter, allowed: Collection[Role]) -> Principal:
    """The caller (authenticated by the API's gate before anything else) if its role is allowed.

    ``app`` is the API's resolver or one of its routers (a router reads the resolver's context)."""
    principal = app.context.get(PRINCIPAL)
    if not isinstance(principal, Principal):
        principal = _authenticate(app)
    return require_role(principal, allowed)


def csv_response(rows: Iterable[dict[str, Any]], columns: Sequence[str], filename: str) -> Response[str]:
    """A CSV download (UTF-8 with a BOM, so spreadsheet programs read the Chinese right). ``rows``
    is consumed once, row by row: a generator over a listing's pages holds one page at a time."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return Response(
        200,
        "text/csv; charset=utf-8",
        "\ufeff" + buffer.getvalue(),
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


NEXT_CURSOR = "Next-Cursor"
"""The header of a listing answered as a JSON list that holds the cursor of its next page."""
NEXT_CURSOR_HEADER: dict[str, OpenAPIResponseHeader] = {
    NEXT_CURSOR: {
        "description": "Pass as `cursor` for the next page; absent on the last page",
        "schema": {"type": "string"},
    }
}


def listed(model: Any) -> dict[int, ResponseSpec]:
    """The OpenAPI answer of a listing answered by :func:`list_page`: the list and the header."""
    return {
        200: {
            "description": "A page, newest first; the next page's cursor in the Next-Cursor header",
            "headers": NEXT_CURSOR_HEADER,
            "content": {"application/json": {"model": model}},
        }
    }


def list_page(items: Sequence[Any], next_cursor: str | None) -> Response[Any]:
    """A page of a listing whose answer is a JSON list (as before it was paged): the list, and
    the next page's cursor in the ``Next-Cursor`` header (none on the last page)."""
    headers = {NEXT_CURSOR: next_cursor} if next_cursor else None
    return Response(200, "application/json", list(items), headers=headers)


@contextmanager
def cursor_checked() -> Iterator[None]:
    """A cursor the listing did not make (or a malformed one) is a 400 naming ``cursor``."""
    try:
        yield
    except BadCursor as error:
        raise InvalidInput(str(error), field="cursor") from None


def query_instant(text: str | None, field: str) -> datetime | None:
    """An optional RFC 3339 query parameter; a malformed one is a 400 naming ``field``."""
    if not text:
        return None
    try:
        return parse_instant(text)
    except ValueError:
        raise InvalidInput(f"{field} must be an RFC 3339 time", field=field) from None
