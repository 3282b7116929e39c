"""The one way to build an HTTP API function: Powertools' REST resolver with validation,
the shared error mapping, bearer authentication, and the OpenAPI document / Swagger UI."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.event_handler.openapi.params import Query

from incentives.api.auth import Principal, Role, authenticate, require_role
from incentives.api.errors import error_response, invalid_input, register_error_handlers
from incentives.core.clock import parse_instant
from incentives.core.errors import InvalidInput
from incentives.runtime.secrets import SecretPurpose, tenant_secret

API_VERSION = "1.0.0"


ExportFormat = Annotated[str | None, Query(pattern="^(json|csv)$", description="csv exports every match")]
RecordPageSize = Annotated[int, Query(ge=1, le=500, description="Page size (JSON)")]
PageCursor = Annotated[str | None, Query(max_length=64, description="next_cursor of the previous page")]
"""Query parameters of the consoles' record listings (filtered, paged with :func:`page_of`)."""


def create_api(audience: str, title: str, description: str) -> APIGatewayRestResolver:
    """A resolver for ``/<audience>/…`` routes; Swagger UI at ``/<audience>/swagger``."""
    app = APIGatewayRestResolver(enable_validation=True)
    register_error_handlers(app)

    def _invalid_request(error: RequestValidationError) -> Response[str]:
        return error_response(invalid_input(error.errors()))

    app.exception_handler(RequestValidationError)(_invalid_request)

    app.enable_swagger(
        path=f"/{audience}/swagger",
        title=title,
        description=description,
        version=API_VERSION,
        security_schemes={"bearer": HTTPBearer(bearerFormat="JWT")},
        security=[{"bearer": []}],
    )
    return app


def principal_of(app: APIGatewayRestResolver, allowed: Collection[Role]) -> Principal:
    """Authenticate the current request and check its role."""
    header = app.current_event.headers.get("Authorization")
    principal = authenticate(
        header, lambda corp_id: tenant_secret(corp_id, SecretPurpose.API).get("api_jwt_secret")
    )
    return require_role(principal, allowed)


def csv_response(rows: Iterable[dict[str, Any]], columns: Sequence[str], filename: str) -> Response[str]:
    """A CSV download (UTF-8 with a BOM, so spreadsheet programs read the Chinese right)."""
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


def page_of(rows: Sequence[Any], limit: int, cursor: str | None) -> tuple[list[Any], str | None]:
    """One page of a filtered, newest-first list and the cursor of the next (an offset, ``o<n>``).

    Filters apply before paging, so every page but the last is full.
    """
    start = 0
    if cursor:
        if not cursor.startswith("o") or not cursor[1:].isdigit():
            raise InvalidInput("cursor is not one this API returned", field="cursor")
        start = int(cursor[1:])
    following = f"o{start + limit}" if start + limit < len(rows) else None
    return list(rows[start : start + limit]), following


def query_instant(text: str | None, field: str) -> datetime | None:
    """An optional RFC 3339 query parameter; a malformed one is a 400 naming ``field``."""
    if not text:
        return None
    try:
        return parse_instant(text)
    except ValueError:
        raise InvalidInput(f"{field} must be an RFC 3339 time", field=field) from None
