"""What applying WeCom callbacks needs of storage (``incentives.storage.contacts`` implements it).

A callback is recorded under its message identity in one transaction with what it changes (a
customer's binding and the outlets' customer counts), so a repeat changes nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from incentives.messages.internal import WeComCallbackData

Record = dict[str, Any]


class Stale(Exception):
    """The customer changed between its read and the write; nothing was written."""


@dataclass(frozen=True)
class CustomerAttached:
    """A customer bound to a guide: ``customer`` replaces ``before`` (the record read, or none) and
    the external contact points at the customer."""

    before: Record | None
    customer: Record
    counts: dict[str, int] = field(default_factory=dict)
    """Outlet id → the change of its customer count."""


@dataclass(frozen=True)
class RelationEnded:
    """A customer's relation with their guide ended: ``values`` set on the customer read as ``before``."""

    before: Record
    values: Record
    counts: dict[str, int] = field(default_factory=dict)


CustomerChange = CustomerAttached | RelationEnded


class Contacts(Protocol):
    def applied(self, corp_id: str, identity: str) -> bool:
        """Whether the callback with this message identity was recorded already."""

    def guide(self, corp_id: str, user_id: str) -> Record | None: ...

    def contact_way(self, corp_id: str, state: str) -> Record | None:
        """The Contact-Me code whose scans carry ``state``."""

    def department(self, corp_id: str, dept_id: str) -> Record | None: ...

    def customer(self, corp_id: str, customer_id: str) -> Record | None: ...

    def customer_id_of(self, corp_id: str, external_user_id: str) -> str | None:
        """Our customer id for WeCom's external userid (None: never bound)."""

    def record(
        self,
        corp_id: str,
        identity: str,
        callback: WeComCallbackData,
        now: datetime,
        change: CustomerChange | None = None,
    ) -> bool:
        """Record the callback with ``change``; False when it was recorded before (nothing written),
        :class:`Stale` when the customer changed since ``change.before`` was read."""
