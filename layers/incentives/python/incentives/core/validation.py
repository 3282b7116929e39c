"""Pydantic's validation errors as one :class:`InvalidInput` naming the first bad field.

The APIs, the webhook and the WeCom callback all validate input with pydantic models; this is
the one translation of their errors into the error table's 400 (``core.errors``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from incentives.core.errors import InvalidInput, InvalidPart

REQUEST_PARTS = ("body", "query", "path", "header")
"""Where Powertools' validation says a field was; dropped from the field's name."""


def invalid_input(details: Sequence[Mapping[str, Any]], document: Any = None) -> InvalidInput:
    """One 400 for a list of pydantic errors: the first bad field named, every problem listed.

    Fields are exact dotted paths (``data.lines.0.paid_fen``, ``application.match``). The
    request part (``query``) is left out; so are discriminated unions' tags (``order.paid``),
    recognised in ``document`` (the validated input) as a part that is not a key of the object
    it is found in but one of its values. A validator's :class:`~incentives.core.InvalidPart`
    is followed to the part it names; a missing or unknown discriminator is reported on its
    own field (``type``); a misspelled key (where extra keys are forbidden) is named before
    the "missing" it causes.
    """
    ordered = sorted(details, key=lambda detail: detail.get("type") != "extra_forbidden")
    problems = [_problem(detail, document) for detail in ordered]
    field = problems[0][0] if problems else "body"
    message = "; ".join(f"{name}: {text}" for name, text in problems) or "invalid request"
    return InvalidInput(message, field=field)


def _problem(detail: Mapping[str, Any], document: Any) -> tuple[str, str]:
    location: list[Any] = list(detail.get("loc", ()))
    message = str(detail.get("msg", "invalid"))
    context = detail.get("ctx") or {}
    cause = context.get("error")
    if isinstance(cause, InvalidPart):
        location.extend(cause.path)
        message = str(cause)
    if location and location[0] in REQUEST_PARTS:
        location = location[1:]
    missing = detail.get("type") == "missing"
    names: list[str] = []
    here = document
    for index, part in enumerate(location):
        if part == "[key]":  # pydantic's marker for a dict key's own error
            continue
        is_tag = (
            isinstance(here, dict) and part not in here and isinstance(part, str) and part in here.values()
        )
        if is_tag and not (missing and index == len(location) - 1):  # a missing field is never a tag
            continue
        if isinstance(here, dict):
            here = here.get(part)
        elif isinstance(here, list) and isinstance(part, int) and 0 <= part < len(here):
            here = here[part]
        else:
            here = None
        names.append(str(part))
    if detail.get("type") in {"union_tag_invalid", "union_tag_not_found"}:
        names.append(str(context.get("discriminator", "type")).strip("'"))
    return ".".join(names) or "body", message
