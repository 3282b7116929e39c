"""Seed 001 §2.2: becoming an affiliate — settings, conditions, decisions, the form, masking."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from incentives.affiliates.application import (
    ApplicationForm,
    ApplicationSettings,
    BecomeMode,
    CustomerActivity,
    Decision,
    Eligibility,
    Match,
    ReviewMode,
    decide,
    evaluate,
    mask_id_card,
    mask_mobile,
    masked_answers,
    parse_settings,
    validate_answers,
)
from incentives.core.errors import InvalidInput

DIGITS = "0123456789"


def _check_character(first_17: str) -> str:
    # Written from the standard's own formula (weights 2^(17-i) mod 11), not the module's table.
    total = sum(int(digit) * pow(2, 17 - index, 11) for index, digit in enumerate(first_17))
    check = (12 - total % 11) % 11
    return "X" if check == 10 else str(check)


def _id(first_17: str) -> str:
    return first_17 + _check_character(first_17)


VALID_ID = _id("11010519491231002")  # the standard's published example, 11010519491231002X
VALID_MOBILE = "13812345678"


def _rejected(document: dict[str, Any]) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_settings(document)
    return caught.value


def _threshold(match: str, *conditions: dict[str, Any], **settings: Any) -> ApplicationSettings:
    return parse_settings({"match": match, "conditions": list(conditions), **settings})


def _form(*custom_fields: dict[str, Any], **default_fields: dict[str, bool]) -> ApplicationForm:
    return parse_settings(
        {"form": {"default_fields": default_fields, "custom_fields": list(custom_fields)}}
    ).form


def _field(key: str = "f", type_: str = "text", **extra: Any) -> dict[str, Any]:
    return {"key": key, "label": "资料", "type": type_, **extra}


def _form_rejected(*custom_fields: dict[str, Any]) -> InvalidInput:
    return _rejected({"form": {"custom_fields": list(custom_fields)}})


def _answer(field: dict[str, Any], value: Any) -> Any:
    return validate_answers(_form(field), {field["key"]: value})[field["key"]]


def _answer_rejected(form: ApplicationForm, answers: dict[str, Any]) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        validate_answers(form, answers)
    return caught.value


ON = {"enabled": True}
REQUIRED = {"enabled": True, "required": True}
TREE = [
    {
        "label": "浙江",
        "children": [{"label": "杭州", "children": [{"label": "西湖区"}, {"label": "滨江区"}]}],
    },
    {"label": "江苏", "children": [{"label": "南京", "children": [{"label": "玄武区"}]}]},
]
TREE2 = [
    {"label": "浙江", "children": [{"label": "杭州"}, {"label": "宁波"}]},
    {"label": "江苏", "children": [{"label": "南京"}]},
]


# --- settings -------------------------------------------------------------------------------


def test_by_default_customers_apply_for_manual_review_without_threshold() -> None:
    settings = parse_settings({})
    assert (settings.mode, settings.review, settings.match) == (
        BecomeMode.APPLY,
        ReviewMode.MANUAL,
        Match.NONE,
    )
    assert settings.conditions == []


def test_the_default_page_title_fits_the_8_character_limit() -> None:
    assert parse_settings({}).page_title == "申请成为微客"


def test_no_threshold_is_allowed_only_when_customers_apply() -> None:
    assert parse_settings({"mode": "apply", "match": "none"}).match is Match.NONE
    assert _rejected({"mode": "auto", "match": "none"}).field == "match"


@pytest.mark.parametrize("match", ["all", "any"])
def test_a_threshold_needs_at_least_one_condition(match: str) -> None:
    assert _rejected({"match": match, "conditions": []}).field == "conditions"


def test_conditions_given_without_a_threshold_are_rejected_rather_than_ignored() -> None:
    error = _rejected({"match": "none", "conditions": [{"kind": "followed_official_account"}]})
    assert error.field == "conditions"


def test_each_condition_kind_is_given_at_most_once() -> None:
    first, second = {"kind": "recharge_count", "at_least": 1}, {"kind": "recharge_count", "at_least": 2}
    assert _rejected({"match": "all", "conditions": [first, second]}).field == "conditions.1.kind"


def test_an_unknown_condition_kind_is_an_error_naming_kind() -> None:
    assert _rejected({"match": "all", "conditions": [{"kind": "likes_us"}]}).field == "conditions.0.kind"


def test_identity_condition_names_at_least_one_identity_or_tag() -> None:
    assert (
        _rejected({"match": "all", "conditions": [{"kind": "identity"}]}).field == "conditions.0.identities"
    )
    assert _threshold("all", {"kind": "identity", "tags": ["VIP"]}).conditions[0].kind == "identity"


def test_bought_products_condition_names_at_least_one_product() -> None:
    error = _rejected({"match": "all", "conditions": [{"kind": "bought_products", "product_ids": []}]})
    assert error.field == "conditions.0.product_ids"


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        ("consumption_amount", "at_least_fen"),
        ("consumption_count", "at_least"),
        ("recharge_amount", "at_least_fen"),
        ("recharge_count", "at_least"),
    ],
)
def test_amount_and_count_thresholds_are_at_least_1(kind: str, key: str) -> None:
    assert _threshold("all", {"kind": kind, key: 1}).conditions[0].kind == kind
    assert _rejected({"match": "all", "conditions": [{"kind": kind, key: 0}]}).field == f"conditions.0.{key}"


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"mathc": "all"}, "mathc"),
        ({"match": "all", "conditions": [{"kind": "recharge_count", "atleast": 1}]}, "conditions.0.atleast"),
        ({"form": {"custom_fields": [{**_field(), "lable": "x"}]}}, "form.custom_fields.0.lable"),
        ({"form": {"default_fields": {"name": {"enabeld": True}}}}, "form.default_fields.name.enabeld"),
    ],
)
def test_a_misspelled_setting_is_an_error_naming_it(document: dict[str, Any], field: str) -> None:
    assert _rejected(document).field == field


def test_mode_review_and_match_accept_only_their_values() -> None:
    assert _rejected({"mode": "invite"}).field == "mode"
    assert _rejected({"review": "later"}).field == "review"
    assert _rejected({"match": "most"}).field == "match"


def test_page_title_is_at_most_8_characters() -> None:
    assert parse_settings({"page_title": "八个字的页面标题"}).page_title == "八个字的页面标题"
    assert _rejected({"page_title": "九个字的申请页面标题"}).field == "page_title"


def test_notice_is_at_most_2000_characters() -> None:
    assert parse_settings({"notice": "须" * 2000}).notice == "须" * 2000
    assert _rejected({"notice": "须" * 2001}).field == "notice"


# --- conditions -----------------------------------------------------------------------------

CONDITION_CASES = [
    (
        {"kind": "followed_official_account"},
        CustomerActivity(followed_official_account=True),
        CustomerActivity(followed_official_account=False),
    ),
    (
        {"kind": "identity", "identities": ["member"], "tags": ["VIP"]},
        CustomerActivity(identities=frozenset({"member"})),
        CustomerActivity(identities=frozenset({"guest"}), tags=frozenset({"new"})),
    ),
    (
        {"kind": "identity", "identities": ["member"], "tags": ["VIP"]},
        CustomerActivity(tags=frozenset({"VIP", "new"})),
        CustomerActivity(tags=frozenset({"member"})),  # a tag is not an identity
    ),
    (
        {"kind": "bought_products", "product_ids": ["p1", "p2"]},
        CustomerActivity(products_bought=frozenset({"p2"})),
        CustomerActivity(products_bought=frozenset({"p3"})),
    ),
    (
        {"kind": "consumption_amount", "at_least_fen": 10_000},
        CustomerActivity(consumption_fen=10_000),
        CustomerActivity(consumption_fen=9_999),
    ),
    (
        {"kind": "consumption_count", "at_least": 3},
        CustomerActivity(consumption_count=3),
        CustomerActivity(consumption_count=2),
    ),
    (
        {"kind": "recharge_amount", "at_least_fen": 50_000},
        CustomerActivity(recharge_fen=50_000),
        CustomerActivity(recharge_fen=49_999),
    ),
    (
        {"kind": "recharge_count", "at_least": 2},
        CustomerActivity(recharge_count=2),
        CustomerActivity(recharge_count=1),
    ),
]
CONDITION_IDS = [
    "followed",
    "identity-by-identity",
    "identity-by-tag",
    "bought",
    "consumption-amount",
    "consumption-count",
    "recharge-amount",
    "recharge-count",
]


@pytest.mark.parametrize(("condition", "meets", "falls_short"), CONDITION_CASES, ids=CONDITION_IDS)
def test_each_condition_is_met_by_a_customer_who_reaches_it(
    condition: dict[str, Any], meets: CustomerActivity, falls_short: CustomerActivity
) -> None:
    assert evaluate(_threshold("all", condition), meets) == Eligibility(True, [condition["kind"]], [])


@pytest.mark.parametrize(("condition", "meets", "falls_short"), CONDITION_CASES, ids=CONDITION_IDS)
def test_each_condition_is_unmet_by_a_customer_who_falls_short(
    condition: dict[str, Any], meets: CustomerActivity, falls_short: CustomerActivity
) -> None:
    assert evaluate(_threshold("all", condition), falls_short) == Eligibility(False, [], [condition["kind"]])


# Every kind once (the identity kind has two cases above).
ALL_CONDITIONS = [case[0] for index, case in enumerate(CONDITION_CASES) if index != 2]


def test_a_new_customer_meets_no_condition() -> None:
    assert evaluate(_threshold("any", *ALL_CONDITIONS), CustomerActivity()).met == []


FOLLOWED = {"kind": "followed_official_account"}
TWO_ORDERS = {"kind": "consumption_count", "at_least": 2}


def test_all_is_eligible_only_when_every_condition_is_met() -> None:
    settings = _threshold("all", FOLLOWED, TWO_ORDERS)
    both = CustomerActivity(followed_official_account=True, consumption_count=2)
    one = CustomerActivity(followed_official_account=True, consumption_count=1)
    assert evaluate(settings, both).eligible
    assert evaluate(settings, one) == Eligibility(False, ["followed_official_account"], ["consumption_count"])


def test_any_is_eligible_when_one_condition_is_met() -> None:
    settings = _threshold("any", FOLLOWED, TWO_ORDERS)
    one = CustomerActivity(followed_official_account=False, consumption_count=5)
    assert evaluate(settings, one) == Eligibility(True, ["consumption_count"], ["followed_official_account"])


def test_any_is_not_eligible_when_no_condition_is_met() -> None:
    settings = _threshold("any", FOLLOWED, TWO_ORDERS)
    assert not evaluate(settings, CustomerActivity(consumption_count=1)).eligible


def test_no_threshold_makes_every_customer_eligible() -> None:
    assert evaluate(parse_settings({"match": "none"}), CustomerActivity()) == Eligibility(True, [], [])


ACTIVITIES = st.builds(
    CustomerActivity,
    followed_official_account=st.booleans(),
    identities=st.frozensets(st.sampled_from(["member", "staff"])),
    tags=st.frozensets(st.sampled_from(["VIP", "new"])),
    products_bought=st.frozensets(st.sampled_from(["p1", "p2", "p3"])),
    consumption_fen=st.integers(0, 20_000),
    consumption_count=st.integers(0, 5),
    recharge_fen=st.integers(0, 100_000),
    recharge_count=st.integers(0, 5),
)


@given(ACTIVITIES, st.sampled_from(["all", "any"]))
def test_every_condition_is_either_met_or_unmet_and_eligibility_follows_the_match(
    activity: CustomerActivity, match: str
) -> None:
    result = evaluate(_threshold(match, *ALL_CONDITIONS), activity)
    assert sorted(result.met + result.unmet) == sorted(c["kind"] for c in ALL_CONDITIONS)
    assert result.eligible == (not result.unmet if match == "all" else bool(result.met))


# --- decisions ------------------------------------------------------------------------------


def test_auto_mode_approves_an_eligible_customer_at_once() -> None:
    settings = _threshold("all", FOLLOWED, mode="auto", review="manual")
    assert decide(settings, Eligibility(True, ["followed_official_account"], []))[0] is Decision.APPROVED


def test_auto_mode_rejects_an_ineligible_customer_naming_the_unmet_conditions() -> None:
    settings = _threshold("all", FOLLOWED, TWO_ORDERS, mode="auto")
    decision, reason = decide(
        settings, Eligibility(False, [], ["followed_official_account", "consumption_count"])
    )
    assert decision is Decision.REJECTED
    assert "followed_official_account" in reason and "consumption_count" in reason


def test_an_application_that_does_not_meet_the_conditions_is_rejected() -> None:
    settings = _threshold("all", TWO_ORDERS, mode="apply", review="auto")
    decision, reason = decide(settings, Eligibility(False, [], ["consumption_count"]))
    assert decision is Decision.REJECTED
    assert "consumption_count" in reason


def test_an_eligible_application_under_automatic_review_is_approved() -> None:
    settings = _threshold("all", TWO_ORDERS, mode="apply", review="auto")
    assert decide(settings, Eligibility(True, ["consumption_count"], []))[0] is Decision.APPROVED


def test_an_eligible_application_under_manual_review_waits_for_review() -> None:
    settings = _threshold("all", TWO_ORDERS, mode="apply", review="manual")
    assert decide(settings, Eligibility(True, ["consumption_count"], []))[0] is Decision.PENDING_REVIEW


def test_without_a_threshold_every_application_goes_to_review() -> None:
    settings = parse_settings({"mode": "apply", "review": "manual", "match": "none"})
    assert decide(settings, evaluate(settings, CustomerActivity()))[0] is Decision.PENDING_REVIEW


# --- the form definition --------------------------------------------------------------------


def test_a_default_field_cannot_be_required_without_being_enabled() -> None:
    error = _rejected({"form": {"default_fields": {"mobile": {"enabled": False, "required": True}}}})
    assert error.field == "form.default_fields.mobile.required"


def test_a_custom_field_cannot_be_required_without_being_enabled() -> None:
    assert _form_rejected(_field(enabled=False, required=True)).field == "form.custom_fields.0.required"


def test_only_the_five_default_fields_exist() -> None:
    assert _rejected({"form": {"default_fields": {"nickname": ON}}}).field == "form.default_fields.nickname"
    form = _form(name=ON, mobile=ON, id_card=ON, email=ON, community=ON)
    assert len(form.default_fields) == 5


def test_default_fields_not_configured_are_disabled() -> None:
    assert _answer_rejected(_form(name=ON), {"email": "a@example.com"}).field == "answers.email"


@pytest.mark.parametrize("key", ["Name", "1st", "a-b", "", "x" * 33, "a b", "é"])
def test_a_custom_field_key_is_a_short_lowercase_identifier(key: str) -> None:
    assert _form_rejected(_field(key=key)).field == "form.custom_fields.0.key"


@pytest.mark.parametrize("key", ["a", "shop_2", "x" * 32])
def test_a_well_formed_custom_field_key_is_accepted(key: str) -> None:
    assert _form(_field(key=key)).custom_fields[0].key == key


@pytest.mark.parametrize("key", ["name", "mobile", "id_card", "email", "community"])
def test_a_custom_field_key_is_not_a_default_field_name(key: str) -> None:
    assert _form_rejected(_field(key=key)).field == "form.custom_fields.0.key"


def test_custom_field_keys_are_unique() -> None:
    assert _form_rejected(_field("a"), _field("b"), _field("a")).field == "form.custom_fields.2.key"


def test_a_form_has_at_most_30_custom_fields() -> None:
    assert len(_form(*(_field(f"f{n}") for n in range(30))).custom_fields) == 30
    assert _form_rejected(*(_field(f"f{n}") for n in range(31))).field == "form.custom_fields"


def test_field_name_is_at_most_8_characters() -> None:
    assert _form({**_field(), "label": "八个字的资料名称"}).custom_fields[0].label == "八个字的资料名称"
    assert _form_rejected(_field("a"), _field("b"), {**_field("c"), "label": "九个字的资料名称呀"}).field == (
        "form.custom_fields.2.label"
    )


@pytest.mark.parametrize("label", ["", "   "])
def test_field_name_is_not_blank(label: str) -> None:
    assert _form_rejected({**_field(), "label": label}).field == "form.custom_fields.0.label"


def test_an_unknown_field_type_is_rejected() -> None:
    assert _form_rejected(_field(type_="signature")).field == "form.custom_fields.0.type"


@pytest.mark.parametrize("type_", ["single", "multi"])
def test_a_choice_field_has_1_to_50_options(type_: str) -> None:
    assert (
        len(_form(_field(type_=type_, options=[f"选项{n}" for n in range(50)])).custom_fields[0].options)
        == 50
    )
    assert _form_rejected(_field(type_=type_, options=[])).field == "form.custom_fields.0.options"
    too_many = [f"选项{n}" for n in range(51)]
    assert _form_rejected(_field(type_=type_, options=too_many)).field == "form.custom_fields.0.options"


def test_option_is_at_most_20_characters() -> None:
    assert _form(_field(type_="single", options=["选" * 20])).custom_fields[0].options == ["选" * 20]
    error = _form_rejected(_field(type_="single", options=["好", "选" * 21]))
    assert error.field == "form.custom_fields.0.options.1"


def test_options_are_unique() -> None:
    error = _form_rejected(_field(type_="multi", options=["红", "绿", "红"]))
    assert error.field == "form.custom_fields.0.options.2"


@pytest.mark.parametrize(
    "type_", ["text", "number", "textarea", "image", "date", "time", "datetime", "cascade2", "cascade3"]
)
def test_options_given_for_a_type_without_options_are_rejected(type_: str) -> None:
    extra = {"cascade": TREE2 if type_ == "cascade2" else TREE} if type_.startswith("cascade") else {}
    assert _form_rejected(_field(type_=type_, options=["a"], **extra)).field == "form.custom_fields.0.options"


@pytest.mark.parametrize(("type_", "tree"), [("cascade2", TREE2), ("cascade3", TREE)])
def test_a_cascade_whose_every_branch_reaches_its_depth_is_accepted(type_: str, tree: list[Any]) -> None:
    assert _form(_field(type_=type_, cascade=tree)).custom_fields[0].cascade[0].label == "浙江"


@pytest.mark.parametrize("type_", ["cascade2", "cascade3"])
def test_a_cascade_field_needs_options(type_: str) -> None:
    assert _form_rejected(_field(type_=type_)).field == "form.custom_fields.0.cascade"


def test_every_cascade_branch_reaches_the_required_depth() -> None:
    short = [TREE[0], {"label": "江苏", "children": [{"label": "南京"}]}]
    assert _form_rejected(_field(type_="cascade3", cascade=short)).field == (
        "form.custom_fields.0.cascade.1.children.0.children"
    )


def test_a_cascade_is_not_deeper_than_its_type() -> None:
    assert _form_rejected(_field(type_="cascade2", cascade=TREE)).field == (
        "form.custom_fields.0.cascade.0.children.0.children"
    )


def test_cascade_option_is_at_most_20_characters() -> None:
    fits = [{"label": "省" * 20, "children": [{"label": "市" * 20}]}]
    assert _form(_field(type_="cascade2", cascade=fits)).custom_fields[0].cascade[0].label == "省" * 20
    too_long = [{"label": "浙江", "children": [{"label": "市" * 21}]}]
    assert _form_rejected(_field(type_="cascade2", cascade=too_long)).field == (
        "form.custom_fields.0.cascade.0.children.0.label"
    )


def test_cascade_siblings_are_unique() -> None:
    twins = [{"label": "浙江", "children": [{"label": "杭州"}, {"label": "杭州"}]}]
    assert _form_rejected(_field(type_="cascade2", cascade=twins)).field == (
        "form.custom_fields.0.cascade.0.children.1.label"
    )


def test_a_cascade_given_for_another_type_is_rejected() -> None:
    assert _form_rejected(_field(type_="text", cascade=TREE2)).field == "form.custom_fields.0.cascade"


def test_only_an_image_field_has_an_example_image() -> None:
    url = "https://img.example.com/sample.png"
    assert _form(_field(type_="image", example_image_url=url)).custom_fields[0].example_image_url == url
    assert _form_rejected(_field(type_="text", example_image_url=url)).field == (
        "form.custom_fields.0.example_image_url"
    )


def test_an_example_image_is_an_https_url() -> None:
    error = _form_rejected(_field(type_="image", example_image_url="http://img.example.com/a.png"))
    assert error.field == "form.custom_fields.0.example_image_url"


# --- answers: required, enabled, unknown ----------------------------------------------------


@pytest.mark.parametrize("blank", [None, "", "   ", []])
def test_a_required_field_left_blank_is_rejected(blank: Any) -> None:
    form = _form(_field("hobby", type_="multi", options=["跑步"], required=True), name=ON)
    assert _answer_rejected(form, {"hobby": blank}).field == "answers.hobby"


def test_a_required_field_missing_is_rejected() -> None:
    assert _answer_rejected(_form(name=REQUIRED), {}).field == "answers.name"


def test_an_optional_field_left_blank_is_left_out() -> None:
    assert validate_answers(_form(_field("note"), name=ON), {"name": "  ", "note": None}) == {}


def test_an_answer_for_a_field_that_is_not_enabled_is_rejected() -> None:
    form = _form(_field("note", enabled=False), name={"enabled": False})
    assert _answer_rejected(form, {"note": "hi"}).field == "answers.note"
    assert _answer_rejected(form, {"name": "张三"}).field == "answers.name"


def test_an_answer_for_an_unknown_field_is_rejected() -> None:
    assert _answer_rejected(_form(name=ON), {"name": "张三", "wechat": "zs"}).field == "answers.wechat"


def test_the_cleaned_answers_hold_only_enabled_fields() -> None:
    form = _form(_field("note"), _field("hidden", enabled=False), name=ON, mobile={"enabled": False})
    assert validate_answers(form, {"name": " 张三 ", "note": "hi"}) == {"name": "张三", "note": "hi"}


# --- answers: default fields ----------------------------------------------------------------


def test_name_is_1_to_20_characters() -> None:
    form = _form(name=REQUIRED)
    assert validate_answers(form, {"name": "名" * 20}) == {"name": "名" * 20}
    assert _answer_rejected(form, {"name": "名" * 21}).field == "answers.name"


def test_a_mainland_mobile_is_accepted() -> None:
    assert validate_answers(_form(mobile=ON), {"mobile": " 13812345678 "}) == {"mobile": "13812345678"}


@pytest.mark.parametrize(
    "mobile",
    [
        "12812345678",
        "1381234567",
        "138123456789",
        "1381234567a",
        "1381234567８",
        "+8613812345678",
        13812345678,
    ],
)
def test_a_mobile_is_a_mainland_mobile_number(mobile: Any) -> None:
    assert _answer_rejected(_form(mobile=ON), {"mobile": mobile}).field == "answers.mobile"


@given(st.sampled_from("3456789"), st.text(DIGITS, min_size=9, max_size=9))
def test_every_11_digit_number_starting_13_to_19_is_a_mobile(second: str, rest: str) -> None:
    mobile = f"1{second}{rest}"
    assert validate_answers(_form(mobile=ON), {"mobile": mobile}) == {"mobile": mobile}


def test_the_published_example_id_number_is_accepted() -> None:
    assert VALID_ID == "11010519491231002X"
    assert validate_answers(_form(id_card=ON), {"id_card": VALID_ID}) == {"id_card": VALID_ID}


def test_a_lowercase_x_check_character_is_read_as_x() -> None:
    assert validate_answers(_form(id_card=ON), {"id_card": VALID_ID.lower()}) == {"id_card": VALID_ID}


@pytest.mark.parametrize(
    "number",
    [VALID_ID[:-1], VALID_ID + "1", "1101051949123100AX", "11010519491231002Y", 110105194912310021],
)
def test_an_id_number_is_17_digits_then_a_digit_or_x(number: Any) -> None:
    assert _answer_rejected(_form(id_card=ON), {"id_card": number}).field == "answers.id_card"


def test_an_id_number_with_a_wrong_check_digit_is_rejected() -> None:
    wrong = VALID_ID[:-1] + "0"
    assert _answer_rejected(_form(id_card=ON), {"id_card": wrong}).field == "answers.id_card"


@pytest.mark.parametrize("born", ["19490230", "19491301", "18991231"])
def test_an_id_number_carries_a_valid_birth_date(born: str) -> None:
    number = _id(f"110105{born}002")  # the check digit is right, so only the date is wrong
    assert _answer_rejected(_form(id_card=ON), {"id_card": number}).field == "answers.id_card"


IDS = st.builds(
    lambda area, born, sequence: _id(f"{area}{born:%Y%m%d}{sequence}"),
    st.text(DIGITS, min_size=6, max_size=6),
    st.dates(date(1900, 1, 1), date(2099, 12, 31)),
    st.text(DIGITS, min_size=3, max_size=3),
)


@given(IDS)
def test_every_id_number_with_a_right_check_digit_and_birth_date_is_accepted(number: str) -> None:
    assert validate_answers(_form(id_card=ON), {"id_card": number}) == {"id_card": number}


@given(IDS, st.integers(0, 17), st.sampled_from("0123456789X"))
def test_a_valid_id_number_with_any_single_character_changed_is_rejected(
    number: str, position: int, replacement: str
) -> None:
    if position < 17 and replacement == "X":
        replacement = "0"
    if replacement == number[position]:
        replacement = "1" if number[position] == "0" else "0"
    changed = number[:position] + replacement + number[position + 1 :]
    assert _answer_rejected(_form(id_card=ON), {"id_card": changed}).field == "answers.id_card"


@pytest.mark.parametrize("email", ["zhang.san@example.com", "a+b@mail.example.cn"])
def test_a_plausible_email_is_accepted(email: str) -> None:
    assert validate_answers(_form(email=ON), {"email": email}) == {"email": email}


@pytest.mark.parametrize("email", ["zhangsan", "a@b", "@example.com", "a b@example.com", "a@@example.com"])
def test_an_email_is_a_plausible_address(email: str) -> None:
    assert _answer_rejected(_form(email=ON), {"email": email}).field == "answers.email"


def test_an_email_is_at_most_100_characters() -> None:
    fits = "a" * 88 + "@example.com"
    assert validate_answers(_form(email=ON), {"email": fits}) == {"email": fits}
    assert _answer_rejected(_form(email=ON), {"email": "a" + fits}).field == "answers.email"


def test_a_community_is_at_most_50_characters() -> None:
    assert validate_answers(_form(community=ON), {"community": "区" * 50}) == {"community": "区" * 50}
    assert _answer_rejected(_form(community=ON), {"community": "区" * 51}).field == "answers.community"


# --- answers: custom field types ------------------------------------------------------------


def test_a_text_answer_is_at_most_50_characters() -> None:
    assert _answer(_field(), "字" * 50) == "字" * 50
    assert _answer_rejected(_form(_field()), {"f": "字" * 51}).field == "answers.f"


def test_a_text_answer_is_text() -> None:
    assert _answer_rejected(_form(_field()), {"f": 42}).field == "answers.f"


def test_a_textarea_answer_is_at_most_500_characters() -> None:
    assert _answer(_field(type_="textarea"), "字" * 500) == "字" * 500
    assert _answer_rejected(_form(_field(type_="textarea")), {"f": "字" * 501}).field == "answers.f"


@pytest.mark.parametrize(
    ("given_", "cleaned"), [(7, 7), ("12", 12), (" -3.5 ", -3.5), (2.5, 2.5), (12.0, 12)]
)
def test_a_number_answer_is_normalised_to_an_int_or_a_float(given_: Any, cleaned: Any) -> None:
    result = _answer(_field(type_="number"), given_)
    assert result == cleaned and type(result) is type(cleaned)


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "1_000",
        "nan",
        "inf",
        "1e400",
        float("nan"),
        float("inf"),
        True,
        [1],
        "9" * 5_000,
        10**16,
        -(10**16),
        1e-200,
        12.3456789,
    ],
)
def test_a_number_answer_is_a_finite_bounded_number(value: Any) -> None:
    assert _answer_rejected(_form(_field(type_="number")), {"f": value}).field == "answers.f"


def test_an_image_answer_is_an_https_url() -> None:
    url = "https://img.example.com/licence.jpg"
    assert _answer(_field(type_="image"), url) == url


@pytest.mark.parametrize(
    "url", ["http://img.example.com/a.jpg", "licence.jpg", "https://", "https://img.example.com/" + "a" * 480]
)
def test_an_image_answer_is_rejected_unless_an_https_url_of_at_most_500_characters(url: str) -> None:
    assert _answer_rejected(_form(_field(type_="image")), {"f": url}).field == "answers.f"


def test_a_single_answer_is_one_of_the_options() -> None:
    field = _field(type_="single", options=["男", "女"])
    assert _answer(field, "女") == "女"
    assert _answer_rejected(_form(field), {"f": "其他"}).field == "answers.f"


def test_a_multi_answer_is_a_list_of_options() -> None:
    field = _field(type_="multi", options=["跑步", "读书", "旅行"])
    assert _answer(field, ["旅行", "跑步"]) == ["旅行", "跑步"]


@pytest.mark.parametrize("value", [["跑步", "跑步"], ["跑步", "游泳"], "跑步"])
def test_a_multi_answer_is_a_subset_of_the_options_without_repeats(value: Any) -> None:
    form = _form(_field(type_="multi", options=["跑步", "读书"]))
    assert _answer_rejected(form, {"f": value}).field == "answers.f"


@pytest.mark.parametrize(
    ("given_", "cleaned"), [("2026-02-28", "2026-02-28"), (date(2026, 3, 1), "2026-03-01")]
)
def test_a_date_answer_is_normalised_to_iso(given_: Any, cleaned: str) -> None:
    assert _answer(_field(type_="date"), given_) == cleaned


@pytest.mark.parametrize("value", ["2026-02-30", "20260228", "2026/02/28", "2026-02-28T10:00:00"])
def test_a_date_answer_is_a_real_date_as_yyyy_mm_dd(value: str) -> None:
    assert _answer_rejected(_form(_field(type_="date")), {"f": value}).field == "answers.f"


@pytest.mark.parametrize(
    ("given_", "cleaned"), [("09:30", "09:30"), ("09:30:15", "09:30:15"), (time(18, 5), "18:05")]
)
def test_a_time_answer_is_hh_mm_with_optional_seconds(given_: Any, cleaned: str) -> None:
    assert _answer(_field(type_="time"), given_) == cleaned


@pytest.mark.parametrize("value", ["24:00", "9:30", "09:60", "0930", "09:30:15.5"])
def test_a_time_answer_is_a_real_time(value: str) -> None:
    assert _answer_rejected(_form(_field(type_="time")), {"f": value}).field == "answers.f"


@pytest.mark.parametrize(
    ("given_", "cleaned"),
    [
        ("2026-11-01T09:30:00+08:00", "2026-11-01T09:30:00+08:00"),
        ("2026-11-01 09:30", "2026-11-01T09:30:00"),
        ("2026-11-01T01:30:00Z", "2026-11-01T01:30:00+00:00"),
    ],
)
def test_a_datetime_answer_is_normalised_to_iso_8601(given_: str, cleaned: str) -> None:
    assert _answer(_field(type_="datetime"), given_) == cleaned


@pytest.mark.parametrize("value", ["2026-11-01", "tomorrow", "2026-13-01T09:30", "2026-11-01T25:00"])
def test_a_datetime_answer_is_a_real_date_and_time(value: str) -> None:
    assert _answer_rejected(_form(_field(type_="datetime")), {"f": value}).field == "answers.f"


def test_a_cascade_answer_is_a_path_through_the_tree() -> None:
    assert _answer(_field(type_="cascade3", cascade=TREE), ["浙江", "杭州", "滨江区"]) == [
        "浙江",
        "杭州",
        "滨江区",
    ]
    assert _answer(_field(type_="cascade2", cascade=TREE2), ("江苏", "南京")) == ["江苏", "南京"]


@pytest.mark.parametrize(
    "value",
    [
        ["浙江", "杭州"],
        ["浙江", "杭州", "西湖区", "x"],
        ["浙江", "南京", "玄武区"],
        ["上海", "杭州", "西湖区"],
        "浙江",
    ],
)
def test_a_cascade_answer_has_the_exact_depth_and_follows_the_tree(value: Any) -> None:
    form = _form(_field(type_="cascade3", cascade=TREE))
    assert _answer_rejected(form, {"f": value}).field == "answers.f"


# --- masking --------------------------------------------------------------------------------


def test_a_mobile_is_masked_but_for_its_first_3_and_last_4_digits() -> None:
    assert mask_mobile("13812345678") == "138****5678"


def test_an_id_number_is_masked_but_for_its_first_6_and_last_4_characters() -> None:
    assert mask_id_card("110101199003071234") == "110101********1234"


def test_masked_answers_mask_mobile_and_id_number_and_leave_the_rest() -> None:
    answers = {"name": "张三", "mobile": VALID_MOBILE, "id_card": VALID_ID, "note": "13812345678"}
    assert masked_answers(answers) == {
        "name": "张三",
        "mobile": "138****5678",
        "id_card": "110105********002X",
        "note": "13812345678",
    }
    assert answers["mobile"] == VALID_MOBILE  # the caller's answers are left as they were


@given(st.text(DIGITS, min_size=11, max_size=11))
def test_masking_never_reveals_the_middle_digits_of_a_mobile(mobile: str) -> None:
    masked = mask_mobile(mobile)
    assert masked == mobile[:3] + "****" + mobile[7:]


@given(IDS)
def test_masking_never_reveals_the_birth_date_in_an_id_number(number: str) -> None:
    masked = mask_id_card(number)
    assert masked == number[:6] + "*" * 8 + number[14:]


@given(st.text(min_size=0, max_size=10))
def test_a_value_too_short_to_keep_both_ends_is_masked_entirely(value: str) -> None:
    assert mask_id_card(value) == "*" * len(value)
    assert mask_mobile(value[:7]) == "*" * len(value[:7])


# --- the review page (seed 001 §2.2.2 审核中设置) and the application page ------------------------


def test_the_review_page_has_a_prompt_contacts_an_image_and_a_button() -> None:
    page = parse_settings(
        {
            "review_page": {
                "prompt": "您的微客申请正在审核中,请耐心等待",
                "contact_phone": "021-62881234",
                "wechat_id": "brand_service",
                "image_url": "https://img.example.com/qr.png",
                "button_text": "返回商城",
                "button_url": "https://shop.example.com/",
            }
        }
    ).review_page
    assert page.wechat_id == "brand_service" and page.button_text == "返回商城"


def test_a_review_page_button_needs_both_text_and_link() -> None:
    assert _rejected({"review_page": {"button_text": "返回商城"}}).field == "review_page.button_url"


def test_review_page_contacts_are_checked() -> None:
    assert _rejected({"review_page": {"contact_phone": "call me"}}).field == "review_page.contact_phone"
    assert _rejected({"review_page": {"wechat_id": "1abc"}}).field == "review_page.wechat_id"


def test_the_notice_can_be_hidden_and_the_top_image_is_an_https_url() -> None:
    assert parse_settings({"notice": "须知", "notice_visible": False}).notice_visible is False
    assert _rejected({"top_image_url": "http://img.example.com/top.png"}).field == "top_image_url"
