"""What each WeCom callback does here (seed 002): bind customers, welcome them, follow the org.

A callback is applied once per message identity. Its record is written in one transaction
with the binding; the calls that cannot be in that transaction are safe to repeat: the
welcome code is single use at WeCom (a repeat answers 41051), and the "guide acquired
customer" event has a deterministic id that its consumers deduplicate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from incentives.core.clock import iso_utc
from incentives.org.service import apply_contact_change, dept_key, guide_key
from incentives.storage import keys
from incentives.storage.keys import contact_way_key, customer_key, external_key
from incentives.storage.table import Put, Table, Update, Write
from incentives.webhook.models import (
    GuideAcquiredCustomer,
    GuideAcquiredCustomerEvent,
    QueuedEvent,
    WeComCallbackData,
)
from incentives.wecom.client import WeComApiError, WeComClient
from incentives.wecom.events import callback_record, record_once

WELCOME_CODE_USED = 41051
RELATION_ENDED = {
    "del_external_contact": "deleted_by_guide",
    "del_follow_user": "deleted_by_customer",
    "transfer_fail": "transfer_failed",
}


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
            effects.table,
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
        "gsi2pk": f"{keys.tenant(corp_id)}#GUIDE_CUSTOMERS#{callback.user_id}",
        "gsi2sk": f"{iso_utc(now)}#{customer_id}",
    }
    writes: list[Write] = [
        Put(attached),
        Put(
            {
                **external_key(corp_id, callback.external_user_id),
                "kind": "external",
                "customer_id": customer_id,
            }
        ),
    ]
    if outlet is not None and (is_new or (existing or {}).get("outlet_id") != outlet_id):
        writes.append(Update(dept_key(corp_id, outlet_id), add={"customer_count": 1}))
    applied = record_once(table, corp_id, identity, callback, now, writes)
    return f"customer {customer_id} bound to {callback.user_id} ({'new' if is_new else 'returning'})" + (
        "" if applied else ", already applied"
    )


def _end_relation(
    effects: WeComEffects, corp_id: str, identity: str, callback: WeComCallbackData, now: datetime
) -> str:
    table = effects.table
    link = table.get(external_key(corp_id, callback.external_user_id))
    writes: list[Write] = []
    if link is not None:
        current: dict[str, Any] = table.get(customer_key(corp_id, link["customer_id"])) or {}
        if current.get("guide_id") == callback.user_id:
            writes.append(
                Update(
                    customer_key(corp_id, link["customer_id"]),
                    set={
                        "relation": RELATION_ENDED[callback.change_type],
                        "relation_changed_at": iso_utc(now),
                        "fail_reason": callback.fail_reason,
                    },
                )
            )
    record_once(table, corp_id, identity, callback, now, writes)
    return f"relation {RELATION_ENDED[callback.change_type]} recorded"
