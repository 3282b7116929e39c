"""The external webhook contract: the events the merchant's order / member system sends (SPEC §3.2).

Unknown fields are ignored; a missing or malformed required field is an error naming it.
Events the product makes for itself (a WeCom callback, a closed after-sales window, …) are
not part of this contract: they are in ``incentives.messages.internal``, and the message on
the inbound events queue (either kind) is ``incentives.messages.queued.QueuedEvent``. The
same models validate the message again when the event processor takes it off the queue, so a
message that did not come through the webhook is held to the same contract.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from incentives.core.money import Fen

MAX_QUANTITY = 1_000_000
"""Units of one product on one order line."""
MAX_UNIX_SECONDS = 2**32
WECHAT_STORE = "wechat_store"

Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@\-]+$")]
Name = Annotated[str, Field(min_length=1, max_length=128)]


class Contract(BaseModel):
    """Base of every inbound model: unknown fields ignored, values immutable once parsed.

    Validators are built on first use (``defer_build``), not at import: a function validates one
    or two of these types (the processor, the queued event; the webhook, its union), and building
    the outer type's validator builds what it holds once, not every model's own as well (SPEC §6).
    """

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True, defer_build=True)


SceneKind = Literal[
    "promoter",
    "wecom_share",
    "mini_program",
    "official_account",
    "live_reservation",
    "ad",
    "live",
    "short_video",
]
"""Where a WeChat Store order came from (seed 004): 推客 promoter, a WeCom share, a mini program,
an official / service account entry, a live reservation, an ad entry, a live room, a short video."""

LEGACY_SCENES: dict[str, SceneKind] = {
    "promoter": "promoter",
    "share": "wecom_share",
    "wecom_share": "wecom_share",
    "mini_program": "mini_program",
    "official_account": "official_account",
    "service_account": "official_account",
    "live_reservation": "live_reservation",
    "ad": "ad",
    "live": "live",
    "short_video": "short_video",
}
"""The old single ``source.scene`` value → the signal it stands for when ``signals`` is absent."""


class SceneSignal(Contract):
    """One scene signal of an order's source (several may be present; the subsidy plan ranks them)."""

    model_config = ConfigDict(
        extra="ignore", frozen=True, str_strip_whitespace=True, strict=True, defer_build=True
    )

    kind: SceneKind
    share_channel: Literal["group", "private_chat", "moments"] | None = None
    sharer_guide_id: Identifier | None = None
    promoter_id: Identifier | None = None
    video_account_id: Identifier | None = None
    entry: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    via_ad: StrictBool = False
    observed_at: Annotated[AwareDatetime, Field(strict=False)] | None = None

    @model_validator(mode="after")
    def _share_channel_of_shares_only(self) -> SceneSignal:
        if self.share_channel is not None and self.kind != "wecom_share":
            raise ValueError("share_channel is for wecom_share signals only")
        return self


MAX_SIGNALS = 32


class OrderSource(Contract):
    scene: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z_]+$")] | None = None
    affiliate_id: Identifier | None = None
    sharer_guide_id: Identifier | None = None
    video_account_id: Identifier | None = None
    via_ad: StrictBool = False
    signals: Annotated[list[SceneSignal], Field(max_length=MAX_SIGNALS)] = []

    @model_validator(mode="before")
    @classmethod
    def _signals_from_scene(cls, data: object) -> object:
        """Without ``signals``, the old ``scene`` field gives the one signal (backward compatible)."""
        if not isinstance(data, dict) or "signals" in data:
            return data
        scene = data.get("scene")
        if scene is None:
            raise ValueError("give scene or signals")
        kind = LEGACY_SCENES.get(scene) if isinstance(scene, str) else None
        if kind is None:
            return data
        signal: dict[str, object] = {"kind": kind}
        for name in ("sharer_guide_id", "video_account_id"):
            if data.get(name) is not None:
                signal[name] = data[name]
        if kind == "mini_program" and data.get("via_ad") is True:
            signal["via_ad"] = True
        if kind == "promoter" and data.get("affiliate_id") is not None:
            signal["promoter_id"] = data["affiliate_id"]
        return {**data, "signals": [signal]}


class Shop(Contract):
    rating: Annotated[float, Field(ge=0, le=5)] | None = None
    local_life: StrictBool = False
    admin_account_id: Identifier | None = None
    """The video account (finder id) of the shop's super administrator: it receives growth cards of
    orders that did not come from a live room or a short video (seed 004)."""


class OrderLine(Contract):
    line_id: Identifier
    product_id: Identifier
    category_path: list[Name]
    quantity: Annotated[StrictInt, Field(ge=1, le=MAX_QUANTITY)]
    payable_fen: Fen
    paid_fen: Fen
    discount_fen: Fen
    points_fen: Fen
    balance_fen: Fen


def _unique_line_ids(lines: list[OrderLine] | list[RefundLine]) -> None:
    seen: set[str] = set()
    for line in lines:
        if line.line_id in seen:
            raise ValueError(f"line_id {line.line_id!r} appears twice")
        seen.add(line.line_id)


class OrderPaid(Contract):
    order_id: Identifier
    customer_id: Identifier
    store_id: Identifier
    paid_at: AwareDatetime
    source: OrderSource
    shop: Shop = Field(default_factory=Shop)  # no instance at import: validators are deferred
    lines: Annotated[list[OrderLine], Field(min_length=1)]
    coupon_codes: list[Identifier] = []
    is_group_buy: bool = False
    channel: Literal["wechat_store", "merchant"] | None = None
    """Where the order was placed: ``wechat_store`` (微信小店); ``merchant`` or None: the merchant's own."""

    @property
    def is_wechat_store(self) -> bool:
        return self.channel == WECHAT_STORE

    @model_validator(mode="after")
    def _lines_are_distinct(self) -> OrderPaid:
        _unique_line_ids(self.lines)
        return self


class RefundLine(Contract):
    line_id: Identifier
    refund_fen: Annotated[Fen, Field(ge=1)]


class OrderRefunded(Contract):
    order_id: Identifier
    refund_id: Identifier
    refunded_at: AwareDatetime
    lines: Annotated[list[RefundLine], Field(min_length=1)]

    @model_validator(mode="after")
    def _lines_are_distinct(self) -> OrderRefunded:
        _unique_line_ids(self.lines)
        return self


class OrderCompleted(Contract):
    order_id: Identifier
    completed_at: AwareDatetime


class SourceSignals(Contract):
    signals: Annotated[list[SceneSignal], Field(max_length=MAX_SIGNALS)]


class OrderSourceUpdated(Contract):
    """Late scene signals of an order (the platform parses share data after the payment)."""

    order_id: Identifier
    updated_at: AwareDatetime
    source: SourceSignals
    reason: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class OrderFlagged(Contract):
    """An order found cheating (刷单, plug-ins): its subsidy is clawed back."""

    order_id: Identifier
    flagged_at: AwareDatetime
    flagged_by: Literal["merchant", "platform"]
    reason: Annotated[str, Field(min_length=1, max_length=200)]


class CouponRedeemed(Contract):
    coupon_code: Identifier
    customer_id: Identifier
    guide_id: Identifier
    redeemed_at: AwareDatetime
    order_id: Identifier | None = None


class RechargePaid(Contract):
    recharge_id: Identifier
    customer_id: Identifier
    amount_fen: Annotated[Fen, Field(ge=1)]
    paid_at: AwareDatetime


class MemberRegistered(Contract):
    customer_id: Identifier
    registered_at: AwareDatetime
    invited_by_affiliate_id: Identifier | None = None


class ReferralClicked(Contract):
    customer_id: Identifier
    affiliate_id: Identifier
    clicked_at: AwareDatetime
    store_id: Identifier | None = None


class CustomerBehavior(Contract):
    customer_id: Identifier
    behavior: Annotated[str, Field(min_length=1, max_length=64)]
    occurred_at: AwareDatetime
    guide_id: Identifier | None = None


class CustomerUpdated(Contract):
    customer_id: Identifier
    followed_official_account: bool | None = None
    identities: list[Name] | None = None
    tags: list[Name] | None = None


class Envelope(Contract):
    """An event as it travels: its id (unique per tenant), when it happened, its type and data."""

    event_id: Identifier
    occurred_at: AwareDatetime

    @field_validator("event_id")
    @classmethod
    def _no_separator(cls, value: str) -> str:
        if "#" in value:
            raise ValueError("must not contain '#'")
        return value


class OrderPaidEvent(Envelope):
    type: Literal["order.paid"]
    data: OrderPaid


class OrderRefundedEvent(Envelope):
    type: Literal["order.refunded"]
    data: OrderRefunded


class OrderCompletedEvent(Envelope):
    type: Literal["order.completed"]
    data: OrderCompleted


class OrderSourceUpdatedEvent(Envelope):
    type: Literal["order.source_updated"]
    data: OrderSourceUpdated


class OrderFlaggedEvent(Envelope):
    type: Literal["order.flagged"]
    data: OrderFlagged


class CouponRedeemedEvent(Envelope):
    type: Literal["coupon.redeemed"]
    data: CouponRedeemed


class RechargePaidEvent(Envelope):
    type: Literal["recharge.paid"]
    data: RechargePaid


class MemberRegisteredEvent(Envelope):
    type: Literal["member.registered"]
    data: MemberRegistered


class ReferralClickedEvent(Envelope):
    type: Literal["referral.clicked"]
    data: ReferralClicked


class CustomerBehaviorEvent(Envelope):
    type: Literal["customer.behavior"]
    data: CustomerBehavior


class CustomerUpdatedEvent(Envelope):
    type: Literal["customer.updated"]
    data: CustomerUpdated


WebhookEvent = (
    OrderPaidEvent
    | OrderRefundedEvent
    | OrderCompletedEvent
    | OrderSourceUpdatedEvent
    | OrderFlaggedEvent
    | CouponRedeemedEvent
    | RechargePaidEvent
    | MemberRegisteredEvent
    | ReferralClickedEvent
    | CustomerBehaviorEvent
    | CustomerUpdatedEvent
)
"""Every event of the contract; a new type is one envelope added here (docs/decisions.md)."""

WebhookEventBody = Annotated[WebhookEvent, Field(discriminator="type")]
"""What the merchant may send to ``POST /webhooks/orders``."""


def event_types(events: Any) -> tuple[str, ...]:
    """The ``type`` of each envelope of a union of envelopes, in the union's order."""
    return tuple(get_args(envelope.model_fields["type"].annotation)[0] for envelope in get_args(events))


WEBHOOK_EVENT_TYPES = event_types(WebhookEvent)
