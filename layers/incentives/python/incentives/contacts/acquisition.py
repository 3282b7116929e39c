"""What each WeCom callback does here (seed 002): bind customers, welcome them, follow the org.

A callback is applied once per message identity. Its record is written in one transaction
with the binding and with the outlets' customer counts (:func:`count_changes`: a customer is
counted at the outlet of an active binding, nowhere else); the calls that cannot be in that
transaction are safe to repeat: the welcome code is single use at WeCom (a repeat answers
41051), and the "guide acquired customer" event has a deterministic id that its consumers deduplicate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from incentives.contacts.ports import Contacts, CustomerAttached, Record, RelationEnded, Stale
from incentives.core.clock import iso_utc
from incentives.messages.internal import GuideAcquiredCustomer, GuideAcquiredCustomerEvent, WeComCallbackData
from incentives.messages.queued import QueuedEvent
from incentives.org.ports import OrgRepository
from incentives.org.service import apply_contact_change
from incentives.wecom.client import WeComApiError, WeComClient

WELCOME_CODE_USED = 41051
RELATION_ENDED = {
    "del_external_contact": "deleted_by_guide",
    "del_follow_user": "deleted_by_customer",
    "transfer_fail": "transfer_failed",
}
ATTEMPTS = 5
"""How often a binding change is tried again when the customer changed between its read and its write."""


def counted_outlet(customer: Record | None) -> str | None:
    """The outlet that counts a customer: the outlet of an active binding, else none."""
    if not customer or customer.get("relation") != "active":
        return None
    return str(customer.get("outlet_id") or "") or None


def count_changes(before: Record | None, after: Record | None) -> dict[str, int]:
    """The outlet counts' changes that go with a customer's change: −1 where they were counted, +1
    where they are now; none when that outlet stays the same (a repeat, a new guide in the same outlet)."""
    old, new = counted_outlet(before), counted_outlet(after)
    if old == new:
        return {}
    return {**({old: -1} if old else {}), **({new: 1} if new else {})}


@dataclass(frozen=True)
class WeComEffects:
    contacts: Contacts
    org: OrgRepository
    client: Callable[[str], WeComClient]
    emit: Callable[[list[QueuedEvent]], None]


def apply_callback(
    effects: WeComEffects, corp_id: str, identity: str, callback: WeComCallbackData, now: datetime
) -> str:
    if effects.contacts.applied(corp_id, identity):
        return "already applied"
    if callback.event == "change_external_contact" and callback.change_type in (
        "add_external_contact",
        "add_half_external_contact",
    ):
        return _acquire(effects, corp_id, identity, callback, now)
    if callback.event == "change_external_contact" and callback.change_type in RELATION_ENDED:
        return _end_relation(effects, corp_id, identity, callback, now)
    if callback.event == "change_contact":
        detail = apply_contact_change(
            effects.org,
            effects.client(corp_id),
            callback.change_type,
            callback.user_id,
            callback.party_id,
            now,
        )
        effects.contacts.record(corp_id, identity, callback, now)
        return detail
    effects.contacts.record(corp_id, identity, callback, now)
    return "recorded"


def _acquire(
    effects: WeComEffects, corp_id: str, identity: str, callback: WeComCallbackData, now: datetime
) -> str:
    contacts, client = effects.contacts, effects.client(corp_id)
    contact = client.external_contact(callback.external_user_id)
    customer_id = (
        contact.get("external_contact", {}).get("unionid") or f"external-{callback.external_user_id}"
    )
    guide = contacts.guide(corp_id, callback.user_id) or {}
    way = contacts.contact_way(corp_id, callback.state) if callback.state else None
    outlet_id = (way or {}).get("outlet_id") or next(iter(guide.get("outlet_ids", [])), "")
    outlet = contacts.department(corp_id, outlet_id) if outlet_id else None
    existing = contacts.customer(corp_id, customer_id)
    is_new = existing is None
    text = (way or {}).get("welcome_message") or guide.get("welcome_message")
    if text and callback.welcome_code:
        try:
            client.send_welcome_msg(callback.welcome_code, text)
        except WeComApiError as error:
            if error.errcode != WELCOME_CODE_USED:
                raise
    effects.emit(
        [
            QueuedEvent(
                corp_id=corp_id,
                received_at=now,
                event=GuideAcquiredCustomerEvent(
                    event_id=f"acquired-{identity}",
                    type="guide.customer_acquired",
                    occurred_at=now,
                    data=GuideAcquiredCustomer(
                        customer_id=customer_id,
                        external_user_id=callback.external_user_id,
                        guide_id=callback.user_id,
                        outlet_id=outlet_id,
                        new_customer=is_new,
                        acquired_at=now,
                    ),
                ),
            )
        ]
    )
    for attempt in range(ATTEMPTS):
        if attempt:
            existing = contacts.customer(corp_id, customer_id)
        attached = {
            "corp_id": corp_id,
            "customer_id": customer_id,
            "external_user_id": callback.external_user_id,
            "name": contact.get("external_contact", {}).get("name", ""),
            "guide_id": callback.user_id,
            "outlet_id": outlet_id,
            "attached_at": iso_utc(now),
            "relation": "active",
            "dept_path": (outlet or {}).get("path", []),
            "state": callback.state,
            "first_guide_id": (existing or {}).get("first_guide_id", callback.user_id),
            "first_attached_at": (existing or {}).get("first_attached_at", iso_utc(now)),
            "revision": int((existing or {}).get("revision", 0)) + 1,
        }
        change = CustomerAttached(existing, attached, count_changes(existing, attached))
        try:
            applied = contacts.record(corp_id, identity, callback, now, change)
        except Stale:
            continue  # the customer changed since it was read: read it again
        return f"customer {customer_id} bound to {callback.user_id} ({'new' if is_new else 'returning'})" + (
            "" if applied else ", already applied"
        )
    raise Stale(f"customer {customer_id} changed at each of {ATTEMPTS} attempts")


def _end_relation(
    effects: WeComEffects, corp_id: str, identity: str, callback: WeComCallbackData, now: datetime
) -> str:
    contacts = effects.contacts
    customer_id = contacts.customer_id_of(corp_id, callback.external_user_id)
    for _ in range(ATTEMPTS):
        change: RelationEnded | None = None
        current = contacts.customer(corp_id, customer_id) if customer_id is not None else None
        if current is not None and current.get("guide_id") == callback.user_id:
            ended = {"relation": RELATION_ENDED[callback.change_type]}
            values = {
                **ended,
                "relation_changed_at": iso_utc(now),
                "fail_reason": callback.fail_reason,
                "revision": int(current.get("revision", 0)) + 1,
            }
            change = RelationEnded(current, values, count_changes(current, {**current, **ended}))
        try:
            contacts.record(corp_id, identity, callback, now, change)
        except Stale:
            continue  # the customer changed since it was read: read it again
        return f"relation {RELATION_ENDED[callback.change_type]} recorded"
    raise Stale(f"customer {customer_id} changed at each of {ATTEMPTS} attempts")
