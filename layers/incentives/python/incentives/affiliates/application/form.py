"""The application form and page the merchant sets up (seed 001 §2.2.1, §2.2.2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from incentives.affiliates.application.conditions import (
    BecomeMode,
    Condition,
    Match,
    ReviewMode,
    SettingsModel,
)
from incentives.core.errors import InvalidPart
from incentives.core.validation import invalid_input


def is_https_url(url: str) -> bool:
    if len(url) > 500 or any(char.isspace() for char in url):
        return False
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(parts.hostname)


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
MAX_OPTIONS = 50
DEFAULT_PAGE_TITLE = "申请成为微客"

Label = Annotated[str, Field(min_length=1, max_length=20)]

# --- the form -------------------------------------------------------------------------------


class FieldSwitch(SettingsModel):
    enabled: StrictBool = False
    required: StrictBool = False

    @model_validator(mode="after")
    def _required_only_if_enabled(self) -> FieldSwitch:
        if self.required and not self.enabled:
            raise InvalidPart("a field that is not enabled cannot be required", "required")
        return self


class CascadeOption(SettingsModel):
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


class CustomField(SettingsModel):
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
        if url is not None and not is_https_url(url):
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


class ApplicationForm(SettingsModel):
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


class ReviewPage(SettingsModel):
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


class ApplicationSettings(SettingsModel):
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
