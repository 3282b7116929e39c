"""Personal data in answers (mobile, ID number) masked before an API answer or a log."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from incentives.affiliates.application.form import DefaultField

# --- masking --------------------------------------------------------------------------------


def _mask(value: str, keep_start: int, keep_end: int) -> str:
    if len(value) <= keep_start + keep_end:
        # Too short to show both ends and still hide something: hide it all.
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[len(value) - keep_end :]


def mask_mobile(mobile: str) -> str:
    """``13812345678`` → ``138****5678``: the first 3 and last 4 characters stay."""
    return _mask(mobile, 3, 4)


def mask_id_card(number: str) -> str:
    """``110101199003071234`` → ``110101********1234``: the first 6 and last 4 characters stay."""
    return _mask(number, 6, 4)


def masked_answers(answers: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``answers`` fit for an API answer or a log: mobile and ID number masked."""
    masked = dict(answers)
    if masked.get(DefaultField.MOBILE.value) is not None:
        masked[DefaultField.MOBILE.value] = mask_mobile(str(masked[DefaultField.MOBILE.value]))
    if masked.get(DefaultField.ID_CARD.value) is not None:
        masked[DefaultField.ID_CARD.value] = mask_id_card(str(masked[DefaultField.ID_CARD.value]))
    return masked
