"""Reading request bodies and naming what is wrong with them (SPEC §5: bad input → 4xx naming it)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, model_validator

from incentives.core.body import MAX_DEPTH, MAX_NUMBER_CHARS, parse_json
from incentives.core.errors import InvalidInput, InvalidPart
from incentives.core.money import MAX_FEN, BasisPoints, Fen
from incentives.core.validation import invalid_input


def _refusal(body: bytes | str) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_json(body)
    assert caught.value.field == "body"
    return caught.value.message


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_nesting_is_allowed_up_to_the_limit_and_refused_past_it() -> None:
    assert parse_json(_nested(MAX_DEPTH)) is not None
    assert "nested more than" in _refusal(_nested(MAX_DEPTH + 1))
    assert "nested more than" in _refusal(_nested(100_000))
    assert "nested more than" in _refusal('{"a":' * 50 + "1" + "}" * 50)


def test_a_number_may_be_long_enough_to_be_out_of_range_but_no_longer() -> None:
    assert parse_json(str(10**39)) == 10**39
    assert parse_json("1" * MAX_NUMBER_CHARS) == int("1" * MAX_NUMBER_CHARS)
    assert "longer than" in _refusal("1" * (MAX_NUMBER_CHARS + 1))
    assert "longer than" in _refusal("0." + "1" * MAX_NUMBER_CHARS)


@pytest.mark.parametrize(
    ("text", "problem"), [("NaN", "NaN"), ("-Infinity", "Infinity"), ("1e999", "out of range")]
)
def test_numbers_json_cannot_hold_are_refused(text: str, problem: str) -> None:
    assert problem in _refusal(f'{{"amount_fen": {text}}}')


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
def test_only_utf8_is_read(encoding: str) -> None:
    assert "UTF-8" in _refusal(json.dumps({"amount_fen": 1}).encode(encoding))


def test_utf8_text_with_chinese_is_read() -> None:
    assert parse_json('{"name": "微客"}'.encode()) == {"name": "微客"}


SCALARS = st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.text()


@given(st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3), max_leaves=20))
def test_any_shallow_json_reads_back_as_written(document: Any) -> None:
    assert parse_json(json.dumps(document).encode()) == document


@pytest.mark.parametrize("amount", ["100", 100.0, True, -1, MAX_FEN + 1, 10**39])
def test_money_is_a_strict_bounded_integer(amount: Any) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Fen).validate_python(amount)


def test_money_and_rates_accept_their_bounds() -> None:
    assert TypeAdapter(Fen).validate_python(MAX_FEN) == MAX_FEN
    assert TypeAdapter(BasisPoints).validate_python(10_000) == 10_000
    with pytest.raises(ValidationError):
        TypeAdapter(BasisPoints).validate_python(10_001)


class _Line(BaseModel):
    paid_fen: Fen


class _Percent(BaseModel):
    kind: Literal["percent"]
    rate_bp: BasisPoints


class _Fixed(BaseModel):
    kind: Literal["fixed"]
    amount_fen: Fen


class _Order(BaseModel):
    lines: list[_Line]
    rules: list[Annotated[_Percent | _Fixed, Field(discriminator="kind")]] = []
    limits: dict[str, Fen] = {}
    mode: str = "any"

    @model_validator(mode="after")
    def _mode_needs_rules(self) -> _Order:
        if self.mode == "rules" and not self.rules:
            raise InvalidPart("mode 'rules' needs rules", "mode")
        return self


def _field_of(document: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        _Order.model_validate(document)
    field = invalid_input(caught.value.errors(), document).field
    assert field is not None
    return field


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"lines": [{"paid_fen": 1}, {"paid_fen": "2"}]}, "lines.1.paid_fen"),
        ({"lines": [{"note": "paid_fen"}]}, "lines.0.paid_fen"),
        ({"lines": [], "rules": [{"kind": "fixed", "amount_fen": 1.5}]}, "rules.0.amount_fen"),
        ({"lines": [], "rules": [{"kind": "percent"}]}, "rules.0.rate_bp"),
        ({"lines": [], "rules": [{"kind": "other"}]}, "rules.0.kind"),
        ({"lines": [], "rules": [{}]}, "rules.0.kind"),
        ({"lines": [], "limits": {"p1": True}}, "limits.p1"),
        ({"lines": [], "mode": "rules"}, "mode"),
        ({}, "lines"),
    ],
)
def test_an_error_names_the_exact_field(document: dict[str, Any], field: str) -> None:
    assert _field_of(document) == field


def test_a_request_part_is_not_part_of_the_name() -> None:
    details = [{"loc": ("query", "limit"), "msg": "too big", "type": "less_than_equal"}]
    error = invalid_input(details)
    assert (error.field, error.message) == ("limit", "limit: too big")
