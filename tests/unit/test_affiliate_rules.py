"""Affiliate rules as specifications: settings limits, binding, commissions, refunds, figures
(SPEC §4.4; seed 001 §2.1 and §四.2; seed 003)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from incentives.affiliates.binding import Click, bound_at, keep, periods, refuse_binding, upline_chain
from incentives.affiliates.commission import LineShare, Promoter, Role, decide, taken_back
from incentives.affiliates.program import (
    BindingMode,
    ProgramSettings,
    PromotionType,
    commission_rate,
    invite_rate,
)
from incentives.core.money import apply_rate
from incentives.ledger.model import Balance, Bucket
from incentives.storage.affiliates.center import figures, share_state
from incentives.webhook.models import OrderPaid
from tests.support import paid_fact

T0 = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)


def program(**changes: Any) -> ProgramSettings:
    base = {
        "promotion_enabled": True,
        "invitation_image_url": "https://img.example.com/invite.png",
        "commission_rate_bp": 1000,
        "invite_rate_bp": 500,
    }
    return ProgramSettings.model_validate({**base, **changes})


def order(
    *paid: int,
    customer: str = "C",
    store: str = "s1",
    group_buy: bool = False,
    products: tuple[str, ...] = (),
) -> OrderPaid:
    names = products + tuple(f"p{n}" for n in range(len(products), len(paid)))
    return paid_fact("O1", customer, *paid, paid_at=T0, store_id=store, products=names, group_buy=group_buy)


A = Promoter("A", upline_id="B")
B = Promoter("B")


# --- settings (seed 001 §2.1) ----------------------------------------------------------------------


def test_display_name_is_at_most_6_characters() -> None:
    assert program(display_name="品牌推广大使").display_name == "品牌推广大使"
    with pytest.raises(ValidationError, match="display_name"):
        program(display_name="品牌推广大使们")


def test_invitation_title_is_at_most_25_characters() -> None:
    program(invitation_title="邀" * 25)
    with pytest.raises(ValidationError, match="invitation_title"):
        program(invitation_title="邀" * 26)


def test_expiring_binding_needs_its_days_and_only_it_has_days() -> None:
    assert program(binding_mode="expiring", binding_days=15).binding_days == 15
    with pytest.raises(ValidationError, match="binding_days"):
        program(binding_mode="expiring")
    with pytest.raises(ValidationError, match="binding_days"):
        program(binding_mode="permanent", binding_days=15)


def test_promotion_types_are_goods_or_group_buy_each_once() -> None:
    with pytest.raises(ValidationError):
        program(promotion_types=["goods", "goods"])
    with pytest.raises(ValidationError):
        program(promotion_types=["livestream"])


def test_a_misspelled_setting_is_an_error_not_a_silent_default() -> None:
    with pytest.raises(ValidationError, match="commision_rate_bp"):
        ProgramSettings.model_validate({"commision_rate_bp": 100})


def test_rates_are_basis_points_between_0_and_10000() -> None:
    with pytest.raises(ValidationError):
        program(commission_rate_bp=10_001)
    with pytest.raises(ValidationError):
        program(invite_rate_bp=-1)


def test_product_override_beats_level_rate_beats_global_rate() -> None:
    settings = program(product_rates={"p-special": {"commission_rate_bp": 1500, "invite_rate_bp": 50}})
    assert commission_rate(settings, "p-special", level_rate_bp=800) == 1500
    assert commission_rate(settings, "p-plain", level_rate_bp=800) == 800
    assert commission_rate(settings, "p-plain", level_rate_bp=None) == 1000
    assert invite_rate(settings, "p-special") == 50 and invite_rate(settings, "p-plain") == 500


# --- binding ---------------------------------------------------------------------------------------


def test_permanent_binding_keeps_the_first_affiliate() -> None:
    clicks = [Click("A", T0), Click("X", T0 + timedelta(days=1))]
    assert bound_at(clicks, BindingMode.PERMANENT, None, T0 + timedelta(days=30)) == "A"


def test_override_binding_follows_the_last_click() -> None:
    clicks = [Click("A", T0), Click("X", T0 + timedelta(days=1))]
    assert bound_at(clicks, BindingMode.OVERRIDE, None, T0 + timedelta(hours=12)) == "A"
    assert bound_at(clicks, BindingMode.OVERRIDE, None, T0 + timedelta(days=2)) == "X"


def test_expiring_binding_lapses_after_n_days_then_the_next_click_binds() -> None:
    clicks = [Click("A", T0), Click("X", T0 + timedelta(days=3)), Click("X", T0 + timedelta(days=12))]
    assert bound_at(clicks, BindingMode.EXPIRING, 10, T0 + timedelta(days=5)) == "A"  # X could not take over
    assert bound_at(clicks, BindingMode.EXPIRING, 10, T0 + timedelta(days=11)) is None  # lapsed, free
    assert bound_at(clicks, BindingMode.EXPIRING, 10, T0 + timedelta(days=13)) == "X"


def test_a_click_on_the_same_affiliate_renews_an_expiring_binding() -> None:
    clicks = [Click("A", T0), Click("A", T0 + timedelta(days=8))]
    assert bound_at(clicks, BindingMode.EXPIRING, 10, T0 + timedelta(days=15)) == "A"


def test_nobody_is_bound_before_their_first_click() -> None:
    assert bound_at([Click("A", T0)], BindingMode.PERMANENT, None, T0 - timedelta(seconds=1)) is None


@given(
    st.lists(
        st.tuples(st.sampled_from("ABC"), st.integers(min_value=0, max_value=60)), min_size=1, max_size=12
    ),
    st.sampled_from(list(BindingMode)),
    st.randoms(use_true_random=False),
)
def test_binding_does_not_depend_on_the_order_clicks_arrive_in(
    raw: list[tuple[str, int]], mode: BindingMode, shuffler: Any
) -> None:
    clicks = [Click(who, T0 + timedelta(days=day)) for who, day in raw]
    shuffled = list(clicks)
    shuffler.shuffle(shuffled)
    days = 7 if mode is BindingMode.EXPIRING else None
    assert periods(clicks, mode, days) == periods(shuffled, mode, days)


def test_no_self_binding_and_no_loop_up_the_invite_chain() -> None:
    uplines = {"A": "B", "B": "C", "C": None}
    assert upline_chain("A", uplines) == ["A", "B", "C"]
    assert refuse_binding("A", upline_chain("A", uplines)) == "an affiliate cannot be bound to themself"
    assert "loop" in str(refuse_binding("C", upline_chain("A", uplines)))  # C invited B who invited A
    assert refuse_binding("D", upline_chain("A", uplines)) is None


def test_only_the_first_and_latest_clicks_are_kept() -> None:
    clicks = [Click("A", T0 + timedelta(minutes=n)) for n in range(500)]
    kept = keep(clicks)
    assert len(kept) == 200 and kept[0] == clicks[0] and kept[-1] == clicks[-1]


# --- commissions (seed 003's worked example and SPEC §4.4) ------------------------------------------


def test_seed_003_the_promoter_earns_the_commission_and_the_upline_the_invite_reward() -> None:
    decision = decide(program(), order(10_000), buyer=None, bound=A, upline=B)
    shares = {share.role: (share.beneficiary_id, share.amount_fen) for share in decision.shares}
    assert shares == {Role.COMMISSION: ("A", 1_000), Role.INVITE: ("B", 500)}


def test_commission_is_per_line_on_what_the_line_paid_rounded_half_up() -> None:
    decision = decide(program(commission_rate_bp=333), order(1_005, 995), buyer=None, bound=A, upline=None)
    [share] = decision.shares
    assert (
        [line.amount_fen for line in share.lines]
        == [apply_rate(1_005, 333), apply_rate(995, 333)]
        == [33, 33]
    )


def test_a_product_override_rate_applies_to_its_line_only() -> None:
    settings = program(product_rates={"p-special": {"commission_rate_bp": 2000}})
    decision = decide(
        settings, order(1_000, 1_000, products=("p-special", "p-plain")), buyer=None, bound=A, upline=None
    )
    assert [line.rate_bp for line in decision.shares[0].lines] == [2000, 1000]


def test_the_affiliates_level_rate_replaces_the_global_rate() -> None:
    leveled = Promoter("A", level_rate_bp=1200)
    decision = decide(program(), order(10_000), buyer=None, bound=leveled, upline=None)
    assert decision.shares[0].amount_fen == 1_200


def test_no_binding_no_commission() -> None:
    decision = decide(program(), order(10_000), buyer=None, bound=None, upline=None)
    assert decision.shares == () and "bound to no affiliate" in decision.reason


def test_promotion_switched_off_earns_nothing() -> None:
    assert decide(program(promotion_enabled=False), order(10_000), buyer=None, bound=A, upline=B).shares == ()


def test_self_purchase_earns_nothing_unless_enabled() -> None:
    buyer = Promoter("A", upline_id="B")
    off = decide(program(), order(10_000, customer="A"), buyer=buyer, bound=None, upline=B)
    assert off.shares == () and "self-purchase" in off.reason
    on = decide(
        program(self_purchase_commission=True), order(10_000, customer="A"), buyer=buyer, bound=None, upline=B
    )
    assert {(s.role, s.beneficiary_id) for s in on.shares} == {(Role.COMMISSION, "A"), (Role.INVITE, "B")}


def test_a_store_the_affiliate_may_not_promote_earns_nothing() -> None:
    limited = Promoter("A", stores=frozenset({"s1"}))
    assert decide(program(), order(10_000, store="s2"), buyer=None, bound=limited, upline=None).shares == ()
    assert decide(program(), order(10_000, store="s1"), buyer=None, bound=limited, upline=None).shares != ()


def test_a_promotion_type_the_affiliate_lacks_earns_nothing() -> None:
    goods_only = Promoter("A", types=frozenset({PromotionType.GOODS}))
    assert (
        decide(program(), order(10_000, group_buy=True), buyer=None, bound=goods_only, upline=None).shares
        == ()
    )


def test_a_type_the_program_no_longer_promotes_earns_nothing_whatever_the_affiliate_had() -> None:
    settings = program(promotion_types=["goods"])
    assert decide(settings, order(10_000, group_buy=True), buyer=None, bound=A, upline=B).shares == ()


def test_a_zero_rate_share_is_left_out() -> None:
    decision = decide(program(invite_rate_bp=0), order(10_000), buyer=None, bound=A, upline=B)
    assert [share.role for share in decision.shares] == [Role.COMMISSION]


# --- refunds ---------------------------------------------------------------------------------------


def test_a_partial_refund_takes_back_its_pro_rata_part() -> None:
    lines = (LineShare("L1", "p", 10_000, 500, 500),)
    assert taken_back(lines, {"L1": 2_000}) == 100  # 400 of 500 stays pending


def test_a_full_refund_takes_back_everything() -> None:
    lines = (LineShare("L1", "p", 10_000, 500, 500),)
    assert taken_back(lines, {"L1": 10_000}) == 500


@given(
    st.integers(min_value=1, max_value=100_000),
    st.integers(min_value=0, max_value=10_000),
    st.lists(st.integers(min_value=1, max_value=100_000), min_size=1, max_size=6),
)
def test_refunds_never_take_back_more_than_the_share_and_all_of_it_on_a_full_refund(
    paid: int, rate: int, parts: list[int]
) -> None:
    line = LineShare("L1", "p", paid, rate, apply_rate(paid, rate))
    refunded = 0
    taken = 0
    for part in parts:
        refunded = min(paid, refunded + part)
        now_taken = taken_back((line,), {"L1": refunded})
        assert taken <= now_taken <= line.amount_fen  # monotonic, bounded
        taken = now_taken
    assert taken_back((line,), {"L1": paid}) == line.amount_fen


# --- distribution center (seed 001 §四.2) -------------------------------------------------------------


def test_the_six_figures_follow_the_seeds_definitions() -> None:
    balance = Balance(
        {
            Bucket.EARNED: 2_000,
            Bucket.REVERSED: 100,
            Bucket.PENDING: 500,
            Bucket.SETTLED: 600,
            Bucket.RESERVED: 300,
            Bucket.PAID: 500,
        }
    )
    shown = figures(
        balance, {"receivable_fen": 31_000, "paid_orders": 3}, {"issued_fen": 800, "returned_fen": 100}
    )
    assert shown.today_issued_fen == 800 and shown.today_returned_fen == 100
    assert shown.pending_settlement_fen == 600  # withdrawable now
    assert shown.cumulative_rewards_fen == 1_400  # past the window: withdrawable + being paid + paid
    assert shown.receivable_fen == 31_000 and shown.paid_orders == 3


def test_a_share_is_pending_then_settled_or_refunded() -> None:
    share = {"amount_fen": 500, "reversed_fen": 0, "clawed_back_fen": 0, "settled_at": None}
    assert share_state(share) == "pending"
    assert share_state({**share, "reversed_fen": 500}) == "refunded"
    assert share_state({**share, "reversed_fen": 500, "settled_at": "x"}) == "refunded"  # nothing was left
    assert share_state({**share, "settled_at": "2026-04-20T00:00:00.000Z"}) == "settled"
    assert share_state({**share, "settled_at": "x", "clawed_back_fen": 400}) == "settled_then_clawed_back"


# --- the distribution center page (seed 001 §四) ------------------------------------------------------


def test_the_invitation_image_is_required_once_promotion_is_on() -> None:
    with pytest.raises(ValidationError, match="invitation_image_url"):
        ProgramSettings.model_validate({"promotion_enabled": True})
    assert ProgramSettings.model_validate({"promotion_enabled": False}).invitation_image_url is None


def test_the_center_shows_at_most_4_figures_each_once() -> None:
    four = ["today_returned", "today_issued", "receivable", "paid_orders"]
    assert [f.value for f in program(center={"figures": four}).center.figures] == four
    with pytest.raises(ValidationError, match="figures"):
        program(center={"figures": [*four, "pending_settlement"]})
    with pytest.raises(ValidationError, match="twice"):
        program(center={"figures": ["paid_orders", "paid_orders"]})


def test_an_announcement_title_is_at_most_10_characters() -> None:
    page = "https://shop.example.com/p"
    program(center={"announcements": [{"title": "一" * 10, "page_url": page}]})
    with pytest.raises(ValidationError, match="title"):
        program(center={"announcements": [{"title": "一" * 11, "page_url": page}]})


def test_promotion_button_names_are_at_most_8_characters() -> None:
    with pytest.raises(ValidationError, match="customers"):
        program(center={"promotion_buttons": {"customers": "我" * 9}})


def test_at_most_6_custom_tools_with_names_of_8_share_titles_of_25_and_contents_of_40() -> None:
    tool = {
        "name": "新品海报",
        "icon_url": "https://img.example.com/i.png",
        "action": "share",
        "link_url": "https://shop.example.com/new",
        "share_title": "题" * 25,
        "share_content": "文" * 40,
    }
    program(center={"custom_tools": [tool] * 6})
    with pytest.raises(ValidationError, match="custom_tools"):
        program(center={"custom_tools": [tool] * 7})
    for field, text in (("name", "名" * 9), ("share_title", "题" * 26), ("share_content", "文" * 41)):
        with pytest.raises(ValidationError, match=field):
            program(center={"custom_tools": [{**tool, field: text}]})


def test_a_page_tool_carries_no_share_texts() -> None:
    page_tool = {
        "name": "商城",
        "icon_url": "https://img.example.com/i.png",
        "action": "page",
        "link_url": "https://shop.example.com/",
        "share_title": "x",
    }
    with pytest.raises(ValidationError, match="share"):
        program(center={"custom_tools": [page_tool]})


def test_the_community_field_is_only_for_merchants_running_community_group_buy() -> None:
    form = {"default_fields": {"community": {"enabled": True, "required": True}}}
    with pytest.raises(ValidationError, match="community_group_buy"):
        program(application={"form": form})
    assert program(application={"form": form}, community_group_buy=True).community_group_buy
