"""What triggers a guide reward (seed 000), light enough for the event processor to import at init."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from incentives.guides.rules import COUPON_REDEMPTION, CUSTOM_PREFIX, NEW_CUSTOMER


@dataclass(frozen=True)
class Trigger:
    """A qualifying occurrence of a behavior, by a guide, from one source event."""

    behavior: str
    guide_id: str
    customer_id: str
    source_event_id: str
    at: datetime
    reward_key_hint: str
    """What makes the reward unique: the customer for ``new_customer`` (once ever), else the event."""


def trigger_for_coupon(
    event_id: str, coupon_code: str, customer_id: str, guide_id: str, at: datetime
) -> Trigger:
    """A coupon pays once, whatever event ids its redemption arrives under."""
    return Trigger(COUPON_REDEMPTION, guide_id, customer_id, event_id, at, f"coupon:{coupon_code}")


def trigger_for_new_customer(event_id: str, customer_id: str, guide_id: str, at: datetime) -> Trigger:
    """Once per customer ever: a delete-and-re-add or a move between guides never pays twice."""
    return Trigger(NEW_CUSTOMER, guide_id, customer_id, event_id, at, f"customer:{customer_id}")


def trigger_for_behavior(
    event_id: str, behavior: str, customer_id: str, guide_id: str, at: datetime
) -> Trigger:
    return Trigger(CUSTOM_PREFIX + behavior, guide_id, customer_id, event_id, at, f"event:{event_id}")
