"""Domain exception → HTTP response, in one place.

Every error answer has the same shape::

    {"error": {"code": "invalid_input", "message": "data.order_id: Field required", "field": "data.order_id"}}

An error may add details of its own: a WeCom refusal answers 502 (503 with ``Retry-After`` when
a later try can succeed) with ``{"error": {"code": "wecom_error", "errcode": 60011, "message":
"<what the code means>", "errmsg": "<WeCom's text>", "api": "/cgi-bin/…"}}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.types import (
    OpenAPIResponse,
    OpenAPIResponseContentModel,
    OpenAPIResponseContentSchema,
)
from pydantic import BaseModel, Field

from incentives.core import errors

STATUS_BY_ERROR: dict[type[errors.DomainError], HTTPStatus] = {
    errors.InvalidInput: HTTPStatus.BAD_REQUEST,
    errors.Unauthenticated: HTTPStatus.UNAUTHORIZED,
    errors.Forbidden: HTTPStatus.FORBIDDEN,
    errors.NotFound: HTTPStatus.NOT_FOUND,
    errors.Conflict: HTTPStatus.CONFLICT,
    errors.PayloadTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    errors.RetryLater: HTTPStatus.SERVICE_UNAVAILABLE,
    errors.ConcurrentModification: HTTPStatus.SERVICE_UNAVAILABLE,
    errors.UpstreamUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
    errors.UpstreamError: HTTPStatus.BAD_GATEWAY,
}


REQUEST_PARTS = ("body", "query", "path", "header")
"""Where Powertools' validation says a field was; dropped from the field's name."""


def invalid_input(details: Sequence[Mapping[str, Any]]) -> errors.InvalidInput:
    """One 400 for a list of pydantic errors: the first bad field named, every problem listed.

    Fields are dotted paths (``data.lines.0.paid_fen``); a discriminated union's tag
    (``order.paid``) and the request part (``query``) are left out of the name, and a missing
    or unknown discriminator is reported on its own field (``type``).
    """
    problems = []
    for detail in details:
        location = [str(part) for part in detail.get("loc", ())]
        if location and (location[0] in REQUEST_PARTS or "." in location[0]):
            location = location[1:]
        if detail.get("type") in {"union_tag_invalid", "union_tag_not_found"}:
            location.append("type")
        problems.append((".".join(location) or "body", str(detail.get("msg", "invalid"))))
    field = problems[0][0] if problems else "body"
    message = "; ".join(f"{name}: {text}" for name, text in problems) or "invalid request"
    return errors.InvalidInput(message, field=field)


def error_body(
    code: str, message: str, field: str | None = None, details: Mapping[str, Any] | None = None
) -> str:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    error.update(details or {})
    return json.dumps({"error": error}, ensure_ascii=False)


def status_for(error: errors.DomainError) -> HTTPStatus:
    for kind in type(error).__mro__:
        if kind in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[kind]
    return HTTPStatus.UNPROCESSABLE_ENTITY


def error_response(error: errors.DomainError) -> Response[str]:
    status = status_for(error)
    headers = (
        {"Retry-After": str(error.retry_after_seconds or 1)}
        if status is HTTPStatus.SERVICE_UNAVAILABLE
        else None
    )
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=error_body(error.code, error.message, error.field, error.details()),
        headers=headers,
    )


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    """Map every domain error, and unknown routes, to the one error format."""

    def _domain_error(error: errors.DomainError) -> Response[str]:
        return error_response(error)

    app.exception_handler(errors.DomainError)(_domain_error)

    @app.not_found
    def _not_found(_: Exception) -> Response[str]:
        return error_response(errors.NotFound("no such route"))


class ErrorDetail(BaseModel):
    code: str = Field(description="invalid_input, forbidden, not_found, wecom_error …")
    message: str
    field: str | None = Field(default=None, description="The request field at fault, if one is")
    errcode: int | None = Field(default=None, description="wecom_error: WeCom's errcode")
    errmsg: str | None = Field(default=None, description="wecom_error: WeCom's own text")
    api: str | None = Field(default=None, description="wecom_error: the WeCom API that answered")
    retry_after_seconds: int | None = Field(default=None, description="When a later try can succeed")


class ErrorAnswer(BaseModel):
    error: ErrorDetail


def wecom_responses(model: Any) -> dict[int, OpenAPIResponse]:
    """The OpenAPI answers of a route that calls WeCom: ``model`` on success, and the two
    ``wecom_error`` answers (nothing of the request is kept in either)."""
    error: dict[str, OpenAPIResponseContentSchema | OpenAPIResponseContentModel] = {
        "application/json": {"model": ErrorAnswer}
    }
    return {
        200: {"description": "Successful Response", "content": {"application/json": {"model": model}}},
        502: {
            "description": "WeCom refused the call (e.g. 60011 no permission): wecom_error",
            "content": error,
        },
        503: {
            "description": "WeCom is busy (-1) or rate-limited (45009): wecom_error; retry after Retry-After",
            "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
            "content": error,
        },
    }
