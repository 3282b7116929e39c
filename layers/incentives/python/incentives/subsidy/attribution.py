"""Which scene an order is attributed to, and the whole chain of evidence (seed 004).

An order carries every scene signal it has. Each signal is matched to a scene (or to none: a
live room or a short video only says who gets the growth card); the scene ranked highest by the
campaign's priority wins, an excluded match winning a tie. The order is in the plan when the
winner is not excluded and every check passes: enrolment (rating at sign-up above the
threshold, signed up within the window and before the order), the window, local life, and at
least one line outside the excluded categories. Every check is kept with its outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from incentives.subsidy.campaign import SEED_SCENE_PRIORITY, Campaign, PlanScene
from incentives.webhook.models import OrderPaid, SceneSignal


@dataclass(frozen=True)
class SceneMatch:
    """One signal seen as a scene: ``excluded`` says why it keeps the order out of the plan."""

    scene: PlanScene
    signal: str
    detail: str
    excluded: str | None = None


@dataclass(frozen=True)
class Check:
    rule: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Attribution:
    campaign_id: str | None
    campaign_version: int | None
    matches: tuple[SceneMatch, ...]
    winner: SceneMatch | None
    checks: tuple[Check, ...]
    eligible_line_ids: tuple[str, ...]
    recipient: str | None
    recipient_rule: str

    @property
    def in_plan(self) -> bool:
        return (
            self.winner is not None
            and self.winner.excluded is None
            and all(check.passed for check in self.checks)
            and bool(self.eligible_line_ids)
        )

    @property
    def scene(self) -> PlanScene | None:
        """The winning scene when the order is in the plan."""
        return self.winner.scene if self.in_plan and self.winner else None

    def evidence(self) -> tuple[str, ...]:
        """The chain as lines of text: every match, the winner, every check, the card's recipient."""
        lines = [
            f"signal {match.signal} → scene {match.scene}"
            + (f" ({match.detail})" if match.detail else "")
            + (f": not in the plan, {match.excluded}" if match.excluded else "")
            for match in self.matches
        ]
        if not self.matches:
            lines.append("no signal matches a plan scene")
        if self.winner is not None:
            lines.append(f"winner by priority: {self.winner.scene} ({self.winner.signal})")
        lines.extend(
            f"{check.rule}: {'passed' if check.passed else 'failed'} — {check.detail}"
            for check in self.checks
        )
        lines.append(f"growth card to {self.recipient or 'nobody known'} ({self.recipient_rule})")
        lines.append("in the plan" if self.in_plan else "not in the plan")
        return tuple(lines)


def match_signal(signal: SceneSignal) -> SceneMatch | None:
    """The scene a signal stands for; None for signals that are no plan scene (live, short video)."""
    if signal.kind == "promoter":
        who = f"promoter {signal.promoter_id}" if signal.promoter_id else ""
        return SceneMatch("promoter", "promoter", who, "推客 (promoter) orders are not in the plan")
    if signal.kind == "wecom_share":
        parts = [
            part
            for part in (signal.share_channel, signal.sharer_guide_id and f"by {signal.sharer_guide_id}")
            if part
        ]
        return SceneMatch("wecom_share", "wecom_share", ", ".join(parts))
    if signal.kind == "mini_program":
        if signal.via_ad:
            return SceneMatch(
                "mini_program", "mini_program", "via ad", "reached the mini program through an ad"
            )
        return SceneMatch("mini_program", "mini_program", signal.entry or "")
    if signal.kind == "ad":
        return SceneMatch("mini_program", "ad", signal.entry or "", "ad entry (广告投放) to the mini program")
    if signal.kind == "official_account":
        return SceneMatch("official_account", "official_account", signal.entry or "")
    if signal.kind == "live_reservation":
        if signal.promoter_id:
            return SceneMatch(
                "live_reservation",
                "live_reservation",
                f"live of {signal.video_account_id or 'a video account'}",
                f"the live is a promoter's (带货 / 达人带货 account {signal.promoter_id})",
            )
        return SceneMatch("live_reservation", "live_reservation", signal.entry or "")
    return None


def winner_of(matches: list[SceneMatch], priority: list[PlanScene]) -> SceneMatch | None:
    """Highest priority first; at equal rank an excluded match wins (the plan pays only when sure)."""
    if not matches:
        return None
    return min(matches, key=lambda m: (priority.index(m.scene), m.excluded is None))


CARD_SOURCES = ("live", "short_video", "live_reservation")


def card_recipient(signals: list[SceneSignal], admin_account_id: str | None) -> tuple[str | None, str]:
    """Live / short-video orders: the source video account; any other order: the shop's admin's."""
    for signal in signals:
        if signal.kind in CARD_SOURCES and signal.video_account_id:
            return signal.video_account_id, f"{signal.kind} order: its source video account"
    if admin_account_id:
        return admin_account_id, "not a live or short-video order: the shop's super administrator's account"
    return None, "not a live or short-video order and the shop's admin account is unknown"


def category_check(campaign: Campaign, path: list[str]) -> tuple[bool, str]:
    top = path[0] if path else ""
    sub = path[1] if len(path) > 1 else ""
    for excluded in campaign.excluded_categories:
        if excluded.category == top:
            if sub and sub in excluded.except_subcategories:
                return True, f"{'/'.join(path)}: {top} is excluded but its {sub} sub-category is kept"
            return False, f"{'/'.join(path)}: category {top} is excluded"
    return True, f"{'/'.join(path) or '(no category)'}: eligible"


def attribute(
    order: OrderPaid,
    signals: list[SceneSignal],
    campaign: Campaign | None,
    paid_day: date,
) -> Attribution:
    """Attribute ``order`` (its payment, with ``signals`` as its latest source) under ``campaign``."""
    matches = [match for match in (match_signal(signal) for signal in signals) if match is not None]
    recipient, recipient_rule = card_recipient(signals, order.shop.admin_account_id)
    if campaign is None:
        return Attribution(
            None,
            None,
            tuple(matches),
            winner_of(matches, list(SEED_SCENE_PRIORITY)),
            (Check("window", False, f"paid on {paid_day}: no campaign's window holds that day"),),
            (),
            recipient,
            recipient_rule,
        )
    checks = [
        Check(
            "window",
            True,
            f"paid on {paid_day}, inside {campaign.campaign_id} ({campaign.starts_on} … {campaign.ends_on})",
        ),
        *enrolment_checks(campaign, paid_day),
    ]
    if campaign.exclude_local_life:
        checks.append(
            Check(
                "local_life",
                not order.shop.local_life,
                "a local-life shop (本地生活) is not in the plan"
                if order.shop.local_life
                else "not a local-life shop",
            )
        )
    # A line in an excluded category leaves the order in the plan for its other lines.
    eligible: list[str] = []
    details: list[str] = []
    for line in order.lines:
        kept, detail = category_check(campaign, list(line.category_path))
        details.append(f"line {line.line_id} {detail}")
        if kept:
            eligible.append(line.line_id)
    checks.append(Check("categories", bool(eligible), "; ".join(details)))
    return Attribution(
        campaign.campaign_id,
        campaign.version,
        tuple(matches),
        winner_of(matches, list(campaign.scene_priority)),
        tuple(checks),
        tuple(eligible),
        recipient,
        recipient_rule,
    )


def enrolment_checks(campaign: Campaign, paid_day: date) -> list[Check]:
    enrolment = campaign.enrolment
    if enrolment is None:
        return [Check("enrolment", False, "the shop has not signed up for the campaign")]
    rating_ok = enrolment.rating_at_sign_up > campaign.min_rating_exclusive
    signed_in_window = campaign.covers(enrolment.signed_up_on)
    before_order = enrolment.signed_up_on <= paid_day
    return [
        Check(
            "rating",
            rating_ok,
            f"rating at sign-up {enrolment.rating_at_sign_up} "
            f"{'>' if rating_ok else '≤'} {campaign.min_rating_exclusive}",
        ),
        Check(
            "enrolment",
            signed_in_window and before_order,
            f"signed up on {enrolment.signed_up_on}"
            + ("" if signed_in_window else ", outside the sign-up window")
            + ("" if before_order else f", after the order ({paid_day})"),
        ),
    ]
