"""Domain exception → HTTP response, in one place.

Every error answer has the same shape::

    {"error": {"code": "invalid_input", "message": "data.order_id: Field required", "field": "data.order_id"}}

An error may add details of its own: a WeCom refusal answers 502 (503 with ``Retry-After`` when
a later try can succeed) with ``{"error": {"code": "wecom_error", "errcode": 60011, "message":
"<what the code means>", "errmsg": "<WeCom's text>", "api": "/cgi-bin/…"}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
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
from incentives.storage.table import TransactionConflicted

STATUS_BY_ERROR: dict[type[errors.DomainError], HTTPStatus] = {
    errors.InvalidInput: HTTPStatus.BAD_REQUEST,
    errors.Unauthenticated: HTTPStatus.UNAUTHORIZED,
    errors.Forbidden: HTTPStatus.FORBIDDEN,
    errors.NotFound: HTTPStatus.NOT_FOUND,
    errors.Conflict: HTTPStatus.CONFLICT,
    errors.PayloadTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    errors.UnsupportedMediaType: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    errors.RetryLater: HTTPStatus.SERVICE_UNAVAILABLE,
    errors.ConcurrentModification: HTTPStatus.SERVICE_UNAVAILABLE,
    errors.TooManyRequests: HTTPStatus.TOO_MANY_REQUESTS,
    errors.UpstreamUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
    errors.UpstreamError: HTTPStatus.BAD_GATEWAY,
}


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable kind, e.g. invalid_input, unauthenticated, wecom_error")
    message: str = Field(description="What is wrong, for people")
    field: str | None = Field(
        default=None, description="The input named: a dotted path into the body, a parameter or a header"
    )
    errcode: int | None = Field(default=None, description="wecom_error: WeCom's errcode")
    errmsg: str | None = Field(default=None, description="wecom_error: WeCom's own text")
    api: str | None = Field(default=None, description="wecom_error: the WeCom API that answered")
    retry_after_seconds: int | None = Field(default=None, description="When a later try can succeed")


class ErrorAnswer(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


def error_body(
    code: str, message: str, field: str | None = None, details: Mapping[str, Any] | None = None
) -> str:
    detail = ErrorDetail.model_validate(
        {"code": code, "message": message, "field": field or None, **(details or {})}
    )
    return ErrorAnswer(error=detail).model_dump_json(exclude_none=True)


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

    def _conflicted(_: TransactionConflicted) -> Response[str]:
        """Another transaction held the same records (a busy balance): nothing was written."""
        busy = errors.ConcurrentModification("the records are being changed by another request, retry")
        return error_response(busy)

    app.exception_handler(TransactionConflicted)(_conflicted)

    @app.not_found
    def _not_found(_: Exception) -> Response[str]:
        return error_response(errors.NotFound("no such route"))


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
