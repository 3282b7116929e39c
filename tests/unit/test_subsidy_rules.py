"""Seed 004, the WeChat Store private-domain plan: one test per rule (pure domain)."""

from __future__ import annotations

from datetime import datetime

import pytest

from incentives.core.money import apply_ppm
from incentives.subsidy.attribution import Attribution, attribute
from incentives.subsidy.campaign import Campaign, CampaignTerms
from incentives.subsidy.computation import compute
from incentives.webhook.models import OrderPaid, SceneSignal
from tests.support.subsidy import JULY_2, seed_campaign, seed_terms, signal, store_order

CAMPAIGN = seed_campaign()


def _attribute(order: OrderPaid, campaign: Campaign | None = CAMPAIGN) -> Attribution:
    from incentives.core.clock import local_date

    return attribute(order, list(order.source.signals), campaign, local_date(order.paid_at, "Asia/Shanghai"))


def _scene(*signals: SceneSignal, **order: object) -> str | None:
    return _attribute(store_order("O1", *signals, **order)).scene  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kinds", "winner"),
    [
        (("official_account", "wecom_share", "mini_program"), "wecom_share"),
        (("live_reservation", "official_account", "mini_program"), "mini_program"),
        (("live_reservation", "official_account"), "official_account"),
        (("live_reservation",), "live_reservation"),
    ],
)
def test_priority_with_several_scenes_share_then_mini_program_then_official_account_then_live_reservation(
    kinds: tuple[str, ...], winner: str
) -> None:
    assert _scene(*(signal(kind) for kind in kinds)) == winner


def test_every_matched_scene_the_winner_and_each_check_are_in_the_evidence() -> None:
    attribution = _attribute(
        store_order("O1", signal("official_account"), signal("wecom_share", share_channel="group"))
    )
    evidence = "\n".join(attribution.evidence())
    assert "scene official_account" in evidence and "scene wecom_share (group)" in evidence
    assert "winner by priority: wecom_share" in evidence
    for rule in ("window", "rating", "enrolment", "local_life", "categories"):
        assert f"{rule}: passed" in evidence


def test_a_promoter_order_is_not_in_the_plan_even_with_a_share() -> None:
    attribution = _attribute(store_order("O1", signal("wecom_share"), signal("promoter", promoter_id="tk-9")))
    assert attribution.winner is not None and attribution.winner.scene == "promoter"
    assert attribution.in_plan is False
    assert "推客" in "\n".join(attribution.evidence())


@pytest.mark.parametrize("ad_signal", [signal("mini_program", via_ad=True), signal("ad")])
def test_an_order_reaching_the_mini_program_through_an_ad_is_not_in_the_plan(ad_signal: SceneSignal) -> None:
    assert _scene(ad_signal, signal("official_account")) is None


def test_a_share_outranks_an_ad_entry() -> None:
    assert _scene(signal("ad"), signal("wecom_share")) == "wecom_share"


def test_a_live_reservation_of_a_promoters_live_is_not_in_the_plan() -> None:
    assert _scene(signal("live_reservation", video_account_id="finder-tk", promoter_id="tk-1")) is None


def test_the_category_wenwan_is_excluded() -> None:
    assert _scene(signal("wecom_share"), category=("文玩", "手串")) is None


@pytest.mark.parametrize(
    ("sub", "in_plan"), [("黄金", True), ("珍珠", True), ("钻石", False), ("翡翠", False)]
)
def test_jewellery_is_excluded_but_its_gold_and_pearl_sub_categories_are_kept(
    sub: str, in_plan: bool
) -> None:
    assert (_scene(signal("wecom_share"), category=("珠宝首饰", sub)) is not None) is in_plan


def test_an_excluded_line_leaves_the_other_lines_in_the_plan() -> None:
    order = store_order("O1", signal("wecom_share"), paid_fen=(10_000, 10_000))
    order = order.model_copy(
        update={"lines": [order.lines[0], order.lines[1].model_copy(update={"category_path": ["文玩"]})]}
    )
    attribution = _attribute(order)
    figures = compute(order, {}, attribution, CAMPAIGN)
    assert attribution.eligible_line_ids == ("L1",)
    assert (figures.standard_fee_fen, figures.expected_fee_fen, figures.growth_card_fen) == (1000, 600, 40)


def test_a_local_life_shop_is_excluded() -> None:
    assert _scene(signal("wecom_share"), local_life=True) is None


@pytest.mark.parametrize(("rating", "in_plan"), [(4.2, False), (4.1, False), (4.21, True), (5.0, True)])
def test_a_rating_at_sign_up_of_4_2_or_less_is_excluded(rating: float, in_plan: bool) -> None:
    campaign = seed_campaign(enrolment={"signed_up_on": "2026-07-01", "rating_at_sign_up": rating})
    attribution = _attribute(store_order("O1", signal("wecom_share")), campaign)
    assert attribution.in_plan is in_plan


def test_a_shop_that_did_not_sign_up_is_not_in_the_plan() -> None:
    assert (
        _attribute(store_order("O1", signal("wecom_share")), seed_campaign(enrolment=None)).in_plan is False
    )


def test_orders_paid_before_the_shop_signed_up_are_not_in_the_plan() -> None:
    campaign = seed_campaign(enrolment={"signed_up_on": "2026-07-10", "rating_at_sign_up": 4.8})
    assert _attribute(store_order("O1", signal("wecom_share")), campaign).in_plan is False


@pytest.mark.parametrize(
    ("paid_at", "in_plan"),
    [
        ("2026-07-31T23:59:00+08:00", True),  # still July in the merchant's time (15:59 UTC)
        ("2026-08-01T00:01:00+08:00", False),  # July 31 in UTC, August for the merchant
        ("2026-06-30T23:59:00+08:00", False),
        ("2026-07-01T00:00:00+08:00", True),
    ],
)
def test_an_order_outside_the_window_in_merchant_time_is_excluded(paid_at: str, in_plan: bool) -> None:
    order = store_order("O1", signal("wecom_share"), paid_at=datetime.fromisoformat(paid_at))
    from incentives.core.clock import local_date
    from incentives.subsidy.campaign import campaign_for

    campaign = campaign_for([CAMPAIGN], local_date(order.paid_at, "Asia/Shanghai"))
    assert _attribute(order, campaign).in_plan is in_plan


@pytest.mark.parametrize("kind", ["wecom_share", "official_account", "mini_program"])
def test_share_official_account_and_mini_program_pay_one_percent_plus_a_growth_card_of_0_4_percent(
    kind: str,
) -> None:
    order = store_order("O1", signal(kind), paid_fen=10_000)  # 美妆: the default 5 %
    figures = compute(order, {}, _attribute(order), CAMPAIGN)
    assert figures.standard_fee_fen == 500
    assert figures.expected_fee_fen == 100
    assert figures.fee_saving_fen == 400
    assert figures.growth_card_fen == 40
    assert (figures.standard_rate_ppm, figures.expected_rate_ppm) == (50_000, 10_000)


def test_a_live_reservation_gets_a_growth_card_equal_to_the_saving_and_no_fee_reduction() -> None:
    order = store_order(
        "O1", signal("live_reservation", video_account_id="finder-shop-live"), paid_fen=10_000
    )
    figures = compute(order, {}, _attribute(order), CAMPAIGN)
    assert figures.expected_fee_fen == figures.standard_fee_fen == 500
    assert figures.fee_saving_fen == 0
    assert figures.growth_card_fen == 400


def test_the_standard_rate_is_per_category_with_a_default() -> None:
    clothes = store_order("O1", signal("wecom_share"), category=("服饰", "女装"))
    figures = compute(clothes, {}, _attribute(clothes), CAMPAIGN)
    assert (figures.standard_rate_ppm, figures.standard_fee_fen, figures.fee_saving_fen) == (60_000, 600, 500)


def test_computed_on_the_settled_amount_after_a_partial_refund() -> None:
    order = store_order("O1", signal("wecom_share"), paid_fen=10_000)
    figures = compute(order, {"L1": 2_500}, _attribute(order), CAMPAIGN)
    assert figures.settled_fen == 7_500
    assert (figures.standard_fee_fen, figures.expected_fee_fen) == (375, 75)
    assert (figures.fee_saving_fen, figures.growth_card_fen) == (300, 30)


def test_a_fee_rounds_half_up_to_the_fen() -> None:
    assert apply_ppm(50, 10_000) == 1  # 0.5 fen → 1
    assert apply_ppm(49, 10_000) == 0
    assert apply_ppm(125, 4_000) == 1  # 0.5 fen → 1


def test_an_order_not_in_the_plan_pays_the_standard_fee_and_gets_no_card() -> None:
    order = store_order("O1", signal("promoter"))
    figures = compute(order, {}, _attribute(order), CAMPAIGN)
    assert (figures.expected_fee_fen, figures.fee_saving_fen, figures.growth_card_fen) == (500, 0, 0)


@pytest.mark.parametrize("kind", ["live", "short_video", "live_reservation"])
def test_the_card_of_a_live_or_short_video_order_goes_to_its_source_video_account(kind: str) -> None:
    attribution = _attribute(
        store_order("O1", signal("wecom_share"), signal(kind, video_account_id="finder-src"))
    )
    assert attribution.recipient == "finder-src"


def test_the_card_of_any_other_order_goes_to_the_shops_super_administrator() -> None:
    attribution = _attribute(store_order("O1", signal("official_account"), admin_account_id="finder-admin"))
    assert attribution.recipient == "finder-admin"


def test_a_campaign_names_every_scene_once_in_its_priority() -> None:
    with pytest.raises(ValueError, match="scene_priority"):
        seed_terms(
            scene_priority=["wecom_share", "wecom_share", "promoter", "official_account", "live_reservation"]
        )


def test_a_reduced_rate_above_a_standard_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="reduced_rate_ppm"):
        seed_terms(standard_rate_ppm_by_category={"食品": 5_000})


def test_the_seed_defaults_are_the_campaigns_defaults() -> None:
    terms = CampaignTerms.model_validate({"name": "x", "starts_on": "2026-07-01", "ends_on": "2026-07-31"})
    assert (terms.reduced_rate_ppm, terms.growth_card_cap_ppm, terms.min_rating_exclusive) == (
        10_000,
        4_000,
        4.2,
    )
    assert [(e.category, e.except_subcategories) for e in terms.excluded_categories] == [
        ("文玩", []),
        ("珠宝首饰", ["黄金", "珍珠"]),
    ]
    assert terms.scene_priority[0] == "promoter" and terms.exclude_local_life


def test_paid_on_july_2_is_inside_the_seed_window() -> None:
    assert CAMPAIGN.covers(JULY_2.date())
