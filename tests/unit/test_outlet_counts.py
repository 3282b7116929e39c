"""Outlet customer counts follow the binding exactly, whatever the order and repetition of callbacks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from incentives.contacts.acquisition import WeComEffects, apply_callback
from incentives.messages.internal import WeComCallbackData
from incentives.messages.queued import QueuedEvent
from incentives.storage.contacts import TableContacts
from incentives.storage.keys import contact_way_key, outlet_customers_key
from incentives.storage.memory_table import MemoryTable
from incentives.storage.org import TableOrgRepository
from incentives.storage.table import Write
from incentives.wecom.client import WeComClient

CORP = "ww-test"
NOW = datetime(2026, 11, 29, 10, tzinfo=UTC)


class Contacts:
    """The one WeCom call binding makes: who the external contact is."""

    def external_contact(self, external_user_id: str) -> dict[str, Any]:
        return {"external_contact": {"unionid": f"union-{external_user_id}", "name": "顾客"}}


class RacingTable(MemoryTable):
    """Runs ``before_next_write`` (once) just before the next transaction: another change lands
    between a callback's read and its write."""

    before_next_write: Callable[[], None] | None = None

    def transact(self, writes: Sequence[Write]) -> None:
        hook, self.before_next_write = self.before_next_write, None
        if hook is not None:
            hook()
        super().transact(writes)


def _effects(table: MemoryTable) -> WeComEffects:
    emitted: list[QueuedEvent] = []
    return WeComEffects(
        TableContacts(table),
        TableOrgRepository(table),
        lambda _: cast(WeComClient, Contacts()),
        emitted.extend,
    )


def _callback(change_type: str, guide: str, outlet: str = "", created: int = 1) -> WeComCallbackData:
    return WeComCallbackData(
        corp_id=CORP,
        msg_type="event",
        event="change_external_contact",
        change_type=change_type,
        create_time=created,
        user_id=guide,
        external_user_id="wmA",
        state=f"outlet-{outlet}" if outlet else "",
    )


def _apply(table: MemoryTable, callback: WeComCallbackData) -> str:
    identity = f"{callback.change_type}-{callback.user_id}-{callback.create_time}"
    return apply_callback(_effects(table), CORP, identity, callback, NOW)


def _counts(table: MemoryTable) -> dict[str, int]:
    found = {o: table.get(outlet_customers_key(CORP, o)) for o in ("21", "22")}
    return {o: int((item or {}).get("customers", 0)) for o, item in found.items()}


def _table(table: MemoryTable) -> MemoryTable:
    for outlet in ("21", "22"):
        table.items[(contact_way_key(CORP, f"outlet-{outlet}")["pk"], "CONTACT_WAY")] = {
            **contact_way_key(CORP, f"outlet-{outlet}"),
            "kind": "contact_way",
            "outlet_id": outlet,
        }
    return table


def test_a_customer_is_counted_once_at_the_outlet_of_their_active_binding() -> None:
    table = _table(MemoryTable())
    _apply(table, _callback("add_external_contact", "zhang", "21"))
    assert _apply(table, _callback("add_external_contact", "zhang", "21")) == "already applied"
    assert _counts(table) == {"21": 1, "22": 0}
    _apply(table, _callback("add_external_contact", "li", "21", created=2))  # another guide, same outlet
    assert _counts(table) == {"21": 1, "22": 0}
    _apply(table, _callback("add_external_contact", "wang", "22", created=3))
    assert _counts(table) == {"21": 0, "22": 1}
    _apply(table, _callback("del_external_contact", "li", created=4))  # not the current guide
    assert _counts(table) == {"21": 0, "22": 1}
    _apply(table, _callback("del_follow_user", "wang", created=5))
    _apply(table, _callback("del_external_contact", "wang", created=6))  # ended twice
    assert _counts(table) == {"21": 0, "22": 0}
    _apply(table, _callback("add_external_contact", "wang", "22", created=7))
    assert _counts(table) == {"21": 0, "22": 1}


def test_a_change_landing_between_a_callbacks_read_and_write_is_not_counted_over() -> None:
    table = _table(RacingTable())
    table.before_next_write = lambda: _apply(table, _callback("add_external_contact", "zhang", "21"))
    _apply(table, _callback("add_external_contact", "wang", "22", created=2))
    assert _counts(table) == {"21": 0, "22": 1}
    customer = table.get({"pk": f"T#{CORP}#CUSTOMER#union-wmA", "sk": "CUSTOMER"}) or {}
    assert (customer["outlet_id"], customer["revision"]) == ("22", 2)

    table.before_next_write = lambda: _apply(table, _callback("del_follow_user", "wang", created=3))
    _apply(table, _callback("add_external_contact", "zhang", "21", created=4))
    assert _counts(table) == {"21": 1, "22": 0}
