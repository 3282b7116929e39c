"""Becoming an affiliate, pure rules (seed 001 §2.2, SPEC §4.4).

A merchant chooses how customers become affiliates (``auto``: meeting the conditions and
completing the form is enough; ``apply``: the customer applies, then a review decides), the
conditions (seven kinds, matched ``all``, ``any`` or ``none``), and the application form
(five default fields and up to 30 custom ones). This module validates those settings, tells
whether a customer's activity meets them, decides an application and cleans its answers.

Settings read from a request go through :func:`parse_settings`, which reports the first bad
setting as :class:`InvalidInput` with a dotted path (``form.custom_fields.2.label``); building
the models directly raises pydantic's ``ValidationError`` instead. Answers are checked by
:func:`validate_answers`, whose errors name ``answers.<key>``. Mobiles and ID numbers are
personal data: pass answers through :func:`masked_answers` before they reach an API answer
or a log.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from functools import partial
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from incentives.core.errors import InvalidInput, InvalidPart
from incentives.core.money import Fen
from incentives.core.validation import invalid_input


class BecomeMode(StrEnum):
    AUTO = "auto"
    """Meeting the conditions and completing the form makes the customer an affiliate at once."""
    APPLY = "apply"
    """The customer applies; the review decides."""


class ReviewMode(StrEnum):
    AUTO = "auto"
    MANUAL = "manual"


class Match(StrEnum):
    ALL = "all"
    ANY = "any"
    NONE = "none"
    """No threshold; allowed only when customers apply."""


class Decision(StrEnum):
    APPROVED = "approved"
    PENDING_REVIEW = "pending_review"
    REJECTED = "rejected"


class FieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    TEXTAREA = "textarea"
    IMAGE = "image"
    SINGLE = "single"
    MULTI = "multi"
    DATE = "date"
    TIME = "time"
    DATETIME = "datetime"
    CASCADE2 = "cascade2"
    CASCADE3 = "cascade3"


class DefaultField(StrEnum):
    NAME = "name"
    MOBILE = "mobile"
    ID_CARD = "id_card"
    EMAIL = "email"
    COMMUNITY = "community"
    """团购-服务小区, for merchants with community group buying."""


CHOICE_TYPES = frozenset({FieldType.SINGLE, FieldType.MULTI})
CASCADE_DEPTH = {FieldType.CASCADE2: 2, FieldType.CASCADE3: 3}
MAX_CUSTOM_FIELDS = 30
MAX_COUNT = 1_000_000
"""The largest number of orders or recharges a condition may ask for."""
MAX_OPTIONS = 50
DEFAULT_PAGE_TITLE = "申请成为微客"

Label = Annotated[str, Field(min_length=1, max_length=20)]
Reference = Annotated[str, Field(min_length=1, max_length=128)]


class _Model(BaseModel):
    # Settings are typed by people: a misspelled key must be an error, and stray spaces
    # around a label must not make it a different label.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


# --- conditions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerActivity:
    """What is known of a customer when the conditions are checked.

    ``consumption_fen`` is paid + points + balance deductions of paid orders, counted at
    payment; ``consumption_count`` is the number of orders paid.
    """

    followed_official_account: bool = False
    identities: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    products_bought: frozenset[str] = frozenset()
    consumption_fen: int = 0
    consumption_count: int = 0
    recharge_fen: int = 0
    recharge_count: int = 0


class FollowedOfficialAccount(_Model):
    kind: Literal["followed_official_account"] = "followed_official_account"

    def met_by(self, activity: CustomerActivity) -> bool:
        """Whether the customer follows the official account."""
        return activity.followed_official_account


class Identity(_Model):
    kind: Literal["identity"] = "identity"
    identities: list[Reference] = []
    tags: list[Reference] = []

    @model_validator(mode="after")
    def _names_something(self) -> Identity:
        if not self.identities and not self.tags:
            raise InvalidPart("give at least one identity or tag", "identities")
        return self

    def met_by(self, activity: CustomerActivity) -> bool:
        """Whether the customer has any of the identities or tags."""
        return bool(activity.identities.intersection(self.identities)) or bool(
            activity.tags.intersection(self.tags)
        )


class BoughtProducts(_Model):
    kind: Literal["bought_products"] = "bought_products"
    product_ids: Annotated[list[Reference], Field(min_length=1)]

    def met_by(self, activity: CustomerActivity) -> bool:
        """Whether the customer paid for any one of the products."""
        return bool(activity.products_bought.intersection(self.product_ids))


class ConsumptionAmount(_Model):
    kind: Literal["consumption_amount"] = "consumption_amount"
    at_least_fen: Annotated[Fen, Field(ge=1)]

    def met_by(self, activity: CustomerActivity) -> bool:
        """Whether paid + points + balance deductions reach the amount."""
        return activity.consumption_fen >= self.at_least_fen


class ConsumptionCount(_Model):
    kind: Literal["consumption_count"] = "consumption_count"
    at_least: Annotated[StrictInt, Field(ge=1, le=MAX_COUNT)]

    def met_by(self, activity: CustomerActivity) -> bool:
        """Whether the customer paid for at least that many orders."""
        return activity.consumption_count >= self.at_least


class RechargeAmount(_Model):
    kind: Literal["recharge_amount"] = "recharge_amount"
    at_least_fen: Annotated[Fen, Field(ge=1)]

    def met_by(self, activity: CustomerActivity) -> bool:
        """Whether the customer recharged at least that amount in total."""
        return activity.recharge_fen >= self.at_least_fen


class RechargeCount(_Model):
    kind: Literal["recharge_count"] = "recharge_count"
    at_least: Annotated[StrictInt, Field(ge=1, le=MAX_COUNT)]

    def met_by(self, activity: CustomerActivity) -> bool:
        """Whether the customer recharged at least that many times."""
        return activity.recharge_count >= self.at_least


Condition = Annotated[
    FollowedOfficialAccount
    | Identity
    | BoughtProducts
    | ConsumptionAmount
    | ConsumptionCount
    | RechargeAmount
    | RechargeCount,
    Field(discriminator="kind"),
]


# --- the form -------------------------------------------------------------------------------


class FieldSwitch(_Model):
    enabled: StrictBool = False
    required: StrictBool = False

    @model_validator(mode="after")
    def _required_only_if_enabled(self) -> FieldSwitch:
        if self.required and not self.enabled:
            raise InvalidPart("a field that is not enabled cannot be required", "required")
        return self


class CascadeOption(_Model):
    label: Label
    children: list[CascadeOption] = []


def _cascade_problems(options: Sequence[CascadeOption], depth: int, path: tuple[str | int, ...]) -> None:
    """Raise if the tree is not exactly ``depth`` levels deep everywhere, or siblings repeat."""
    seen: set[str] = set()
    for index, option in enumerate(options):
        here = (*path, index)
        if option.label in seen:
            raise InvalidPart(f"option {option.label!r} appears twice among its siblings", *here, "label")
        seen.add(option.label)
        if depth == 1 and option.children:
            raise InvalidPart("the cascade is deeper than its type allows", *here, "children")
        if depth > 1 and not option.children:
            raise InvalidPart(f"every option needs a next level ({depth - 1} more)", *here, "children")
        _cascade_problems(option.children, depth - 1, (*here, "children"))


class CustomField(_Model):
    key: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    label: Annotated[str, Field(min_length=1, max_length=8)]
    type: FieldType
    enabled: StrictBool = True
    required: StrictBool = False
    options: list[Label] = []
    cascade: list[CascadeOption] = []
    example_image_url: str | None = None

    @field_validator("key")
    @classmethod
    def _not_a_default_field(cls, key: str) -> str:
        if key in {field.value for field in DefaultField}:
            raise ValueError(f"{key!r} is a default field; choose another key")
        return key

    @field_validator("example_image_url")
    @classmethod
    def _https_url(cls, url: str | None) -> str | None:
        if url is not None and not _is_https_url(url):
            raise ValueError("must be an https URL of at most 500 characters")
        return url

    @model_validator(mode="after")
    def _shape_fits_type(self) -> CustomField:
        if self.required and not self.enabled:
            raise InvalidPart("a field that is not enabled cannot be required", "required")
        if self.type in CHOICE_TYPES:
            if not 1 <= len(self.options) <= MAX_OPTIONS:
                raise InvalidPart(f"a {self.type} field needs 1 to {MAX_OPTIONS} options", "options")
            seen: set[str] = set()
            for index, option in enumerate(self.options):
                if option in seen:
                    raise InvalidPart(f"option {option!r} appears twice", "options", index)
                seen.add(option)
        elif self.options:
            raise InvalidPart(f"a {self.type} field has no options", "options")
        if self.type in CASCADE_DEPTH:
            if not self.cascade:
                raise InvalidPart(f"a {self.type} field needs options", "cascade")
            _cascade_problems(self.cascade, CASCADE_DEPTH[self.type], ("cascade",))
        elif self.cascade:
            raise InvalidPart(f"a {self.type} field has no cascade", "cascade")
        if self.example_image_url is not None and self.type is not FieldType.IMAGE:
            raise InvalidPart("only an image field has an example image", "example_image_url")
        return self


class ApplicationForm(_Model):
    default_fields: dict[DefaultField, FieldSwitch] = {}
    custom_fields: Annotated[list[CustomField], Field(max_length=MAX_CUSTOM_FIELDS)] = []

    @field_validator("custom_fields")
    @classmethod
    def _keys_unique(cls, fields: list[CustomField]) -> list[CustomField]:
        seen: set[str] = set()
        for index, custom in enumerate(fields):
            if custom.key in seen:
                raise InvalidPart(f"key {custom.key!r} is used twice", index, "key")
            seen.add(custom.key)
        return fields

    def switch(self, field: DefaultField) -> FieldSwitch:
        """The default field's switch; one not configured is disabled."""
        return self.default_fields.get(field, FieldSwitch())


class ReviewPage(_Model):
    """What an applicant sees while the merchant reviews (seed 001 §2.2.2 审核中设置)."""

    prompt: Annotated[str, Field(min_length=1, max_length=100)] = "您的申请正在审核中,请耐心等待"
    contact_phone: Annotated[str, Field(pattern=r"^[0-9+\-]{5,20}$")] | None = None
    wechat_id: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]{5,19}$")] | None = None
    image_url: Annotated[str, Field(max_length=500, pattern=r"^https://")] | None = None
    image_link_url: Annotated[str, Field(max_length=500, pattern=r"^https://")] | None = None
    button_text: Annotated[str, Field(min_length=1, max_length=8)] | None = None
    button_url: Annotated[str, Field(max_length=500, pattern=r"^https://")] | None = None

    @model_validator(mode="after")
    def _button_whole(self) -> ReviewPage:
        if (self.button_text is None) != (self.button_url is None):
            raise InvalidPart("a button needs both its text and its link", "button_url")
        return self


class ApplicationSettings(_Model):
    mode: BecomeMode = BecomeMode.APPLY
    review: ReviewMode = ReviewMode.MANUAL
    match: Match = Match.NONE
    conditions: list[Condition] = []
    form: ApplicationForm = ApplicationForm()
    page_title: Annotated[str, Field(min_length=1, max_length=8)] = DEFAULT_PAGE_TITLE
    top_image_url: Annotated[str, Field(max_length=500, pattern=r"^https://")] | None = None
    notice: Annotated[str, Field(max_length=2000)] | None = None
    notice_visible: StrictBool = True
    """Whether the notice (申请须知) shows on the application page."""
    review_page: ReviewPage = ReviewPage()

    @field_validator("conditions")
    @classmethod
    def _each_kind_once(cls, conditions: list[Condition]) -> list[Condition]:
        seen: set[str] = set()
        for index, condition in enumerate(conditions):
            if condition.kind in seen:
                raise InvalidPart(f"condition {condition.kind!r} is given twice", index, "kind")
            seen.add(condition.kind)
        return conditions

    @model_validator(mode="after")
    def _match_fits(self) -> ApplicationSettings:
        if self.match is Match.NONE and self.mode is not BecomeMode.APPLY:
            raise InvalidPart("no threshold is allowed only when customers apply", "match")
        if self.match is Match.NONE and self.conditions:
            # They would be ignored without a word otherwise.
            raise InvalidPart("conditions are given but match is 'none'", "conditions")
        if self.match is not Match.NONE and not self.conditions:
            raise InvalidPart(f"match {self.match.value!r} needs at least one condition", "conditions")
        return self


def parse_settings(document: Mapping[str, Any]) -> ApplicationSettings:
    """Validate settings from a request; raise :class:`InvalidInput` naming the first bad setting."""
    try:
        return ApplicationSettings.model_validate(dict(document))
    except ValidationError as error:
        raise invalid_input(error.errors(), dict(document)) from None


# --- eligibility and decision ---------------------------------------------------------------


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    met: list[str]
    unmet: list[str]


def evaluate(settings: ApplicationSettings, activity: CustomerActivity) -> Eligibility:
    """Which conditions the customer meets, and whether that is enough under ``match``."""
    if settings.match is Match.NONE:
        return Eligibility(True, [], [])
    met: list[str] = []
    unmet: list[str] = []
    for condition in settings.conditions:
        (met if condition.met_by(activity) else unmet).append(condition.kind)
    eligible = not unmet if settings.match is Match.ALL else bool(met)
    return Eligibility(eligible, met, unmet)


def decide(settings: ApplicationSettings, eligibility: Eligibility) -> tuple[Decision, str]:
    """The outcome of an application whose answers passed :func:`validate_answers`, and why."""
    if not eligibility.eligible:
        return Decision.REJECTED, "conditions not met: " + ", ".join(eligibility.unmet)
    if settings.mode is BecomeMode.AUTO:
        return Decision.APPROVED, "meets the conditions; becomes an affiliate at once"
    if settings.review is ReviewMode.AUTO:
        return Decision.APPROVED, "application approved by automatic review"
    return Decision.PENDING_REVIEW, "application waits for the merchant's review"


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


def _is_https_url(url: str) -> bool:
    if len(url) > 500 or any(char.isspace() for char in url):
        return False
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(parts.hostname)


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
    if not _is_https_url(url):
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
