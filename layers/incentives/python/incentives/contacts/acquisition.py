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
from typing import Any

from incentives.contacts.callbacks import callback_record, record_once
from incentives.core.clock import iso_utc
from incentives.messages.internal import GuideAcquiredCustomer, GuideAcquiredCustomerEvent, WeComCallbackData
from incentives.messages.queued import QueuedEvent
from incentives.org.service import apply_contact_change
from incentives.storage import keys
from incentives.storage.keys import (
    contact_way_key,
    customer_key,
    dept_key,
    external_key,
    guide_key,
    outlet_customers_key,
)
from incentives.storage.org import TableOrgRepository
from incentives.storage.table import (
    AtMost,
    Condition,
    ConditionFailed,
    Equals,
    Exists,
    NotExists,
    Put,
    Table,
    Update,
    Write,
)
from incentives.wecom.client import WeComApiError, WeComClient

WELCOME_CODE_USED = 41051
RELATION_ENDED = {
    "del_external_contact": "deleted_by_guide",
    "del_follow_user": "deleted_by_customer",
    "transfer_fail": "transfer_failed",
}
ATTEMPTS = 5
"""How often a binding change is tried again when the customer changed between its read and its write."""
COUNTER = {"kind": "outlet_customers"}


def counted_outlet(customer: dict[str, Any] | None) -> str | None:
    """The outlet that counts a customer: the outlet of an active binding, else none."""
    if not customer or customer.get("relation") != "active":
        return None
    return str(customer.get("outlet_id") or "") or None


def count_changes(corp_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[Write]:
    """The outlet count writes that go with a customer's change: −1 where they were counted, +1 where
    they are now; none when that outlet stays the same (a repeat, a new guide in the same outlet)."""
    old, new = counted_outlet(before), counted_outlet(after)
    if old == new:
        return []
    writes: list[Write] = []
    if old:
        writes.append(Update(outlet_customers_key(corp_id, old), add={"customers": -1}, set=COUNTER))
    if new:
        writes.append(Update(outlet_customers_key(corp_id, new), add={"customers": 1}, set=COUNTER))
    return writes


def unchanged_since_read(customer: dict[str, Any] | None) -> tuple[Condition, ...]:
    """Conditions that hold only while the customer item is the one read (its ``revision``)."""
    if customer is None:
        return (NotExists(),)
    revision = int(customer.get("revision", 0))
    return (Equals("revision", revision),) if revision else (Exists(), AtMost("revision", 0))


@dataclass(frozen=True)
class WeComEffects:
    table: Table
    client: Callable[[str], WeComClient]
    emit: Callable[[list[QueuedEvent]], None]


def apply_callback(
    effects: WeComEffects, corp_id: str, identity: str, callback: WeComCallbackData, now: datetime
) -> str:
    record = callback_record(corp_id, identity, callback, now)
    if effects.table.get({"pk": record.item["pk"], "sk": record.item["sk"]}) is not None:
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
            TableOrgRepository(effects.table),
            effects.client(corp_id),
            callback.change_type,
            callback.user_id,
            callback.party_id,
            now,
        )
        record_once(effects.table, corp_id, identity, callback, now)
        return detail
    record_once(effects.table, corp_id, identity, callback, now)
    return "recorded"


def _acquire(
    effects: WeComEffects, corp_id: str, identity: str, callback: WeComCallbackData, now: datetime
) -> str:
    table, client = effects.table, effects.client(corp_id)
    contact = client.external_contact(callback.external_user_id)
    customer_id = (
        contact.get("external_contact", {}).get("unionid") or f"external-{callback.external_user_id}"
    )
    guide = table.get(guide_key(corp_id, callback.user_id)) or {}
    way = table.get(contact_way_key(corp_id, callback.state)) if callback.state else None
    outlet_id = (way or {}).get("outlet_id") or next(iter(guide.get("outlet_ids", [])), "")
    outlet = table.get(dept_key(corp_id, outlet_id)) if outlet_id else None
    existing = table.get(customer_key(corp_id, customer_id))
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
            existing = table.get(customer_key(corp_id, customer_id))
        attached = {
            **customer_key(corp_id, customer_id),
            "kind": "customer",
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
            "gsi2pk": f"{keys.tenant(corp_id)}#GUIDE_CUSTOMERS#{callback.user_id}",
            "gsi2sk": f"{iso_utc(now)}#{customer_id}",
        }
        writes: list[Write] = [
            Put(attached, unchanged_since_read(existing)),
            Put(
                {
                    **external_key(corp_id, callback.external_user_id),
                    "kind": "external",
                    "customer_id": customer_id,
                }
            ),
            *count_changes(corp_id, existing, attached),
        ]
        try:
            applied = record_once(table, corp_id, identity, callback, now, writes)
        except ConditionFailed:
            continue  # the customer changed since it was read: read it again
        return f"customer {customer_id} bound to {callback.user_id} ({'new' if is_new else 'returning'})" + (
            "" if applied else ", already applied"
        )
    raise ConditionFailed([1])


def _end_relation(
    effects: WeComEffects, corp_id: str, identity: str, callback: WeComCallbackData, now: datetime
) -> str:
    table = effects.table
    link = table.get(external_key(corp_id, callback.external_user_id))
    for _ in range(ATTEMPTS):
        writes: list[Write] = []
        if link is not None:
            key = customer_key(corp_id, link["customer_id"])
            current: dict[str, Any] | None = table.get(key)
            if current is not None and current.get("guide_id") == callback.user_id:
                ended = {"relation": RELATION_ENDED[callback.change_type]}
                writes.append(
                    Update(
                        key,
                        set={
                            **ended,
                            "relation_changed_at": iso_utc(now),
                            "fail_reason": callback.fail_reason,
                            "revision": int(current.get("revision", 0)) + 1,
                        },
                        conditions=unchanged_since_read(current),
                    )
                )
                writes += count_changes(corp_id, current, {**current, **ended})
        try:
            record_once(table, corp_id, identity, callback, now, writes)
        except ConditionFailed:
            continue  # the customer changed since it was read: read it again
        return f"relation {RELATION_ENDED[callback.change_type]} recorded"
    raise ConditionFailed([1])
