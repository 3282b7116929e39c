"""X-Ray subsegments of our own, opt in: Lambda's active tracing already records each invocation.

With ``Tracing: Active`` Lambda sends a segment for every invocation (its init and invoke
phases, the duration, errors) without any SDK in the function. Powertools' ``Tracer`` adds
subsegments for the handler and chosen methods, and the AWS calls made inside them, but loads
the X-Ray SDK to do so: about 100 ms of every cold start, even with tracing disabled (SPEC §6).
So the handlers are decorated through here: unless ``TRACE_SUBSEGMENTS`` is ``true`` (the
template's ``TraceSubsegments`` parameter, default off), the decorators return the function
itself and the SDK is never imported; when it is, they are the Tracer's own decorators.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

TRACE_SUBSEGMENTS = "TRACE_SUBSEGMENTS"

Function = TypeVar("Function", bound=Callable[..., Any])


def subsegments_enabled() -> bool:
    """Whether this container records our own subsegments (read when a handler module loads)."""
    return os.environ.get(TRACE_SUBSEGMENTS, "false").strip().lower() == "true"


@cache
def tracer() -> Tracer:
    """The Powertools tracer, built on first use only (its import loads the X-Ray SDK)."""
    from aws_lambda_powertools import Tracer

    return Tracer()


def trace_handler(handler: Function) -> Function:
    """The Lambda handler, inside a subsegment of its own when subsegments are enabled."""
    if not subsegments_enabled():
        return handler
    return cast("Function", tracer().capture_lambda_handler(handler))


def trace_method(method: Function) -> Function:
    """A method of the handler, inside a subsegment of its own when subsegments are enabled."""
    if not subsegments_enabled():
        return method
    return tracer().capture_method(method)
