"""WeCom callbacks and the customers they bind, in the single table
(:class:`incentives.contacts.ports.Contacts`).

Each callback is recorded under its identity (``T#<corp>#WECOM_EVENT#<identity>``) with a
conditional put, in the same transaction as its effects, so WeCom's retries (and queue
redeliveries) change nothing twice. A customer's writes hold only while the customer is the one
read (its ``revision``); outlets' customer counts are kept apart from the synchronised outlets.
"""

from __future__ import annotations

from datetime import datetime

from incentives.contacts.ports import CustomerAttached, CustomerChange, Record, Stale
from incentives.core.clock import iso_utc
from incentives.messages.internal import WeComCallbackData
from incentives.storage import keys
from incentives.storage.org import record
from incentives.storage.table import (
    AtMost,
    Condition,
    ConditionFailed,
    Equals,
    Exists,
    Item,
    NotExists,
    Put,
    Table,
    Update,
    Write,
)

COUNTER = {"kind": "outlet_customers"}


def callback_key(corp_id: str, identity: str) -> dict[str, str]:
    return {"pk": f"{keys.tenant(corp_id)}#WECOM_EVENT#{identity}", "sk": "EVENT"}


def callback_record(corp_id: str, identity: str, callback: WeComCallbackData, now: datetime) -> Put:
    return Put(
        {
            **callback_key(corp_id, identity),
            "kind": "wecom_event",
            "corp_id": corp_id,
            "event": callback.event,
            "change_type": callback.change_type,
            "user_id": callback.user_id,
            "external_user_id": callback.external_user_id,
            "fields": callback.fields,
            "received_at": iso_utc(now),
        },
        (NotExists(),),
    )


def unchanged_since_read(customer: Record | None) -> tuple[Condition, ...]:
    """Conditions that hold only while the customer item is the one read (its ``revision``)."""
    if customer is None:
        return (NotExists(),)
    revision = int(customer.get("revision", 0))
    return (Equals("revision", revision),) if revision else (Exists(), AtMost("revision", 0))


def _counts(corp_id: str, counts: dict[str, int]) -> list[Write]:
    return [
        Update(keys.outlet_customers_key(corp_id, outlet), add={"customers": by}, set=COUNTER)
        for outlet, by in counts.items()
    ]


def customer_item(corp_id: str, customer: Record) -> Item:
    """A customer, listed among their guide's customers (``gsi2``) by when they were attached."""
    return {
        **keys.customer_key(corp_id, customer["customer_id"]),
        "kind": "customer",
        **customer,
        "gsi2pk": keys.guide_customers(corp_id, customer["guide_id"]),
        "gsi2sk": f"{customer['attached_at']}#{customer['customer_id']}",
    }


def _writes(corp_id: str, change: CustomerChange) -> list[Write]:
    if isinstance(change, CustomerAttached):
        customer = change.customer
        return [
            Put(customer_item(corp_id, customer), unchanged_since_read(change.before)),
            Put(
                {
                    **keys.external_key(corp_id, customer["external_user_id"]),
                    "kind": "external",
                    "customer_id": customer["customer_id"],
                }
            ),
            *_counts(corp_id, change.counts),
        ]
    return [
        Update(
            keys.customer_key(corp_id, change.before["customer_id"]),
            set=change.values,
            conditions=unchanged_since_read(change.before),
        ),
        *_counts(corp_id, change.counts),
    ]


class TableContacts:
    def __init__(self, table: Table) -> None:
        self._table = table

    def applied(self, corp_id: str, identity: str) -> bool:
        return self._table.get(callback_key(corp_id, identity)) is not None

    def guide(self, corp_id: str, user_id: str) -> Record | None:
        return record(self._table.get(keys.guide_key(corp_id, user_id)))

    def contact_way(self, corp_id: str, state: str) -> Record | None:
        return record(self._table.get(keys.contact_way_key(corp_id, state)))

    def department(self, corp_id: str, dept_id: str) -> Record | None:
        return record(self._table.get(keys.dept_key(corp_id, dept_id)))

    def customer(self, corp_id: str, customer_id: str) -> Record | None:
        return record(self._table.get(keys.customer_key(corp_id, customer_id)))

    def customer_id_of(self, corp_id: str, external_user_id: str) -> str | None:
        link = self._table.get(keys.external_key(corp_id, external_user_id))
        return None if link is None else str(link["customer_id"])

    def record(
        self,
        corp_id: str,
        identity: str,
        callback: WeComCallbackData,
        now: datetime,
        change: CustomerChange | None = None,
    ) -> bool:
        writes: list[Write] = [callback_record(corp_id, identity, callback, now)]
        if change is not None:
            writes += _writes(corp_id, change)
        try:
            self._table.transact(writes)
        except ConditionFailed as failure:
            if 0 in failure.failed:
                return False
            raise Stale(f"customer changed since read (write(s) {failure.failed})") from None
        return True
