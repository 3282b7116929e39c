"""Request bodies as the APIs and the webhook read them: UTF-8 JSON, bounded in every direction.

Python's ``json`` module alone turns hostile input into exceptions that are not input errors
(``RecursionError`` for deep nesting, ``ValueError`` past 4 300 digits) and reads UTF-16 and
UTF-32 from bytes without a word. Here every such body is an :class:`InvalidInput` (400) or a
:class:`PayloadTooLarge` (413) naming the problem, before any model looks at it.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

from incentives.core.errors import InvalidInput, PayloadTooLarge

MAX_DEPTH = 32
"""Objects and arrays nested deeper than this are refused (our deepest model nests about 12)."""
MAX_NUMBER_CHARS = 100
"""A number written with more characters than this is refused before it is converted.

Long enough that an out-of-range amount (say 10^39) reaches its model and is reported on
its own field; short enough that no conversion is ever expensive."""


def event_body(body: str | None, is_base64_encoded: bool) -> bytes:
    """The raw bytes of an API Gateway proxy event's body (base64 when the gateway says so)."""
    if not body:
        return b""
    if is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("the body is not valid base64", field="body") from None
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("the body is not UTF-8 text", field="body") from None


def check_size(raw: bytes, limit: int) -> None:
    if len(raw) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes", field="body")


def utf8_text(raw: bytes) -> str:
    """The body as text; anything but UTF-8 (UTF-16 and UTF-32 included) is a 400."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(
            f"the body is not UTF-8 text (byte {error.start}); send UTF-8 JSON", field="body"
        ) from None
    if "\x00" in text:
        raise InvalidInput(
            "the body contains NUL characters (UTF-16 or UTF-32?); send UTF-8 JSON", field="body"
        )
    return text


def _number(text: str) -> None:
    if len(text) > MAX_NUMBER_CHARS:
        raise InvalidInput(f"the body has a number longer than {MAX_NUMBER_CHARS} characters", field="body")


def _integer(text: str) -> int:
    _number(text)
    return int(text)


def _float(text: str) -> float:
    _number(text)
    value = float(text)
    if not math.isfinite(value):
        raise InvalidInput(f"the body has a number out of range: {text}", field="body")
    return value


def _constant(name: str) -> Any:
    raise InvalidInput(f"{name} is not JSON", field="body")


def _too_deep(document: Any) -> bool:
    pending = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                return True
            children = value.values() if isinstance(value, dict) else value
            pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def parse_json(body: bytes | str) -> Any:
    """A JSON document from a request body, or :class:`InvalidInput` saying what is wrong with it."""
    text = utf8_text(body) if isinstance(body, bytes) else body
    too_deep = InvalidInput(f"the body is nested more than {MAX_DEPTH} levels deep", field="body")
    try:
        document = json.loads(text, parse_int=_integer, parse_float=_float, parse_constant=_constant)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"the body is not valid JSON: {error}", field="body") from None
    except RecursionError:  # nested far deeper than MAX_DEPTH
        raise too_deep from None
    if _too_deep(document):
        raise too_deep
    return document
