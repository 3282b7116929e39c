"""An applicant's answers, checked against the form (seed 001 §2.2.1)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from functools import partial
from typing import Any

from incentives.affiliates.application.form import (
    CASCADE_DEPTH,
    ApplicationForm,
    CascadeOption,
    CustomField,
    DefaultField,
    FieldType,
    is_https_url,
)
from incentives.core.errors import InvalidInput

# --- answers --------------------------------------------------------------------------------

# ASCII only: \d would otherwise accept full-width and other scripts' digits.
MOBILE = re.compile(r"1[3-9]\d{9}", re.ASCII)
ID_CARD = re.compile(r"\d{17}[\dX]", re.ASCII)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}", re.ASCII)
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)
INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
TIME = re.compile(r"\d{2}:\d{2}(:\d{2})?", re.ASCII)
DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?", re.ASCII)
MAX_ANSWER_NUMBER = 10**15
"""A number answer's largest magnitude: below 2^53, so integral floats are exact (12.0 and 12
are one answer) and every answer is an exact JSON / JavaScript number."""
MAX_NUMBER_CHARS = 64
MAX_DECIMAL_PLACES = 6
"""So every number answer is stored exactly as a DynamoDB number (38 digits, exponent ≥ -130)."""


def id_card_check_digit(first_17: str) -> str:
    """The GB 11643-1999 check character of the first 17 digits of a resident ID."""
    total = sum(int(digit) * weight for digit, weight in zip(first_17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]


def _text(value: Any, field: str, max_length: int | None = None) -> str:
    if not isinstance(value, str):
        raise InvalidInput("must be text", field=field)
    text = value.strip()
    if max_length is not None and len(text) > max_length:
        raise InvalidInput(f"must be at most {max_length} characters", field=field)
    return text


def _name(value: Any, field: str) -> str:
    return _text(value, field, 20)


def _mobile(value: Any, field: str) -> str:
    mobile = _text(value, field)
    if not MOBILE.fullmatch(mobile):
        raise InvalidInput("must be a mainland mobile number (11 digits, 1[3-9]…)", field=field)
    return mobile


def _id_card(value: Any, field: str) -> str:
    number = _text(value, field).upper()
    if not ID_CARD.fullmatch(number):
        raise InvalidInput("must be an 18-character resident ID (17 digits, then a digit or X)", field=field)
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidInput("the birth date in the ID number is not a date", field=field) from None
    if born.year < 1900:
        raise InvalidInput("the birth date in the ID number is before 1900", field=field)
    if id_card_check_digit(number[:17]) != number[17]:
        raise InvalidInput("the ID number's check digit is wrong", field=field)
    return number


def _email(value: Any, field: str) -> str:
    email = _text(value, field, 100)
    if not EMAIL.fullmatch(email):
        raise InvalidInput("must be an email address", field=field)
    return email


def _community(value: Any, field: str) -> str:
    return _text(value, field, 50)


DEFAULT_CHECKS: dict[DefaultField, Callable[[Any, str], Any]] = {
    DefaultField.NAME: _name,
    DefaultField.MOBILE: _mobile,
    DefaultField.ID_CARD: _id_card,
    DefaultField.EMAIL: _email,
    DefaultField.COMMUNITY: _community,
}


def _number(value: Any, field: str) -> int | float:
    number: int | float
    if isinstance(value, bool):
        raise InvalidInput("must be a number", field=field)
    if isinstance(value, int):
        number = value
    elif isinstance(value, float | Decimal):
        number = float(value)
    elif isinstance(value, str) and len(value) <= MAX_NUMBER_CHARS and NUMBER.fullmatch(value.strip()):
        text = value.strip()
        number = int(text) if INTEGER.fullmatch(text) else float(text)
    else:
        raise InvalidInput("must be a number", field=field)
    if not math.isfinite(number) or abs(number) > MAX_ANSWER_NUMBER:
        raise InvalidInput(
            f"must be a number between -{MAX_ANSWER_NUMBER} and {MAX_ANSWER_NUMBER}", field=field
        )
    if isinstance(number, float) and number.is_integer():
        return int(number)
    if isinstance(number, float) and round(number, MAX_DECIMAL_PLACES) != number:
        raise InvalidInput(f"must have at most {MAX_DECIMAL_PLACES} decimal places", field=field)
    return number


def _image(value: Any, field: str) -> str:
    url = _text(value, field)
    if not is_https_url(url):
        raise InvalidInput("must be an https URL", field=field)
    return url


def _single(custom: CustomField, value: Any, field: str) -> str:
    choice = _text(value, field)
    if choice not in custom.options:
        raise InvalidInput(f"{choice!r} is not one of the options", field=field)
    return choice


def _multi(custom: CustomField, value: Any, field: str) -> list[str]:
    if not isinstance(value, list | tuple):
        raise InvalidInput("must be a list of options", field=field)
    choices = [_text(item, field) for item in value]
    for choice in choices:
        if choice not in custom.options:
            raise InvalidInput(f"{choice!r} is not one of the options", field=field)
    if len(set(choices)) != len(choices):
        raise InvalidInput("an option is chosen twice", field=field)
    return choices


def _date(value: Any, field: str) -> str:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    text = _text(value, field)
    try:
        if not DATE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise InvalidInput("must be a date YYYY-MM-DD", field=field) from None


def _time(value: Any, field: str) -> str:
    if isinstance(value, time):
        return value.isoformat(timespec="seconds" if value.second else "minutes")
    text = _text(value, field)
    try:
        if not TIME.fullmatch(text):
            raise ValueError(text)
        time.fromisoformat(text)
    except ValueError:
        raise InvalidInput("must be a time HH:MM or HH:MM:SS", field=field) from None
    return text


def _datetime(value: Any, field: str) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    text = _text(value, field)
    try:
        if not DATETIME.fullmatch(text):
            raise ValueError(text)
        return datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()
    except ValueError:
        raise InvalidInput("must be an ISO 8601 date and time", field=field) from None


def _cascade(custom: CustomField, value: Any, field: str) -> list[str]:
    depth = CASCADE_DEPTH[custom.type]
    if not isinstance(value, list | tuple) or len(value) != depth:
        raise InvalidInput(f"must be a path of {depth} options", field=field)
    level: Sequence[CascadeOption] = custom.cascade
    path: list[str] = []
    for item in value:
        label = _text(item, field)
        chosen = next((option for option in level if option.label == label), None)
        if chosen is None:
            raise InvalidInput(
                f"{label!r} is not an option under {' / '.join(path) or 'the top'}", field=field
            )
        path.append(label)
        level = chosen.children
    return path


def _custom_answer(custom: CustomField, value: Any, field: str) -> Any:
    match custom.type:
        case FieldType.TEXT:
            return _text(value, field, 50)
        case FieldType.TEXTAREA:
            return _text(value, field, 500)
        case FieldType.NUMBER:
            return _number(value, field)
        case FieldType.IMAGE:
            return _image(value, field)
        case FieldType.SINGLE:
            return _single(custom, value, field)
        case FieldType.MULTI:
            return _multi(custom, value, field)
        case FieldType.DATE:
            return _date(value, field)
        case FieldType.TIME:
            return _time(value, field)
        case FieldType.DATETIME:
            return _datetime(value, field)
        case FieldType.CASCADE2 | FieldType.CASCADE3:
            return _cascade(custom, value, field)


def _blank(value: Any) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return value is None or (isinstance(value, list | tuple) and not value)


def validate_answers(form: ApplicationForm, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The cleaned answers to ``form``: enabled fields only, values normalised.

    Raises :class:`InvalidInput` naming ``answers.<key>`` for an unknown or disabled field, a
    required field left blank, or a value that breaks its field's rule. A blank optional
    field is left out.
    """
    customs = {custom.key: custom for custom in form.custom_fields}
    enabled: dict[str, bool] = {field.value: form.switch(field).enabled for field in DefaultField}
    enabled.update({key: custom.enabled for key, custom in customs.items()})
    for key in answers:
        if key not in enabled:
            raise InvalidInput(f"{key!r} is not a field of this form", field=f"answers.{key}")
        if not enabled[key]:
            raise InvalidInput(f"{key!r} is not enabled on this form", field=f"answers.{key}")
    cleaned: dict[str, Any] = {}
    for default in DefaultField:
        switch = form.switch(default)
        if switch.enabled:
            _answer(
                cleaned, default.value, answers.get(default.value), switch.required, DEFAULT_CHECKS[default]
            )
    for key, custom in customs.items():
        if custom.enabled:
            _answer(cleaned, key, answers.get(key), custom.required, partial(_custom_answer, custom))
    return cleaned


def _answer(
    cleaned: dict[str, Any], key: str, value: Any, required: bool, check: Callable[[Any, str], Any]
) -> None:
    field = f"answers.{key}"
    if _blank(value):
        if required:
            raise InvalidInput(f"{key!r} is required", field=field)
        return
    cleaned[key] = check(value, field)
