"""What the organization services need from storage; the adapter is ``incentives.storage.org``.

Records are plain attribute documents (no keys, no index attributes): departments by
``dept_id``, guides by ``user_id``, customers by ``customer_id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

Record = dict[str, Any]


class Viewer(Protocol):
    """Who asks, and what of the organization they see (an authenticated principal)."""

    @property
    def corp_id(self) -> str: ...

    @property
    def subject(self) -> str: ...

    @property
    def role(self) -> str:
        """``admin``, ``operator``, ``guide`` or ``affiliate``."""
        ...

    @property
    def dept_ids(self) -> tuple[str, ...]: ...

    def sees_department_path(self, dept_path: Iterable[str]) -> bool: ...


ADMIN = "admin"


@dataclass(frozen=True)
class OrgChanges:
    """What a sync decided: departments and guides to store (whole), and those to remove."""

    departments: Sequence[Record] = ()
    guides: Sequence[Record] = ()
    removed_departments: Sequence[str] = ()
    removed_guides: Sequence[str] = ()

    @property
    def written(self) -> int:
        return len(self.departments) + len(self.guides)

    @property
    def removed(self) -> int:
        return len(self.removed_departments) + len(self.removed_guides)


@dataclass(frozen=True)
class StoredDataNodes:
    value: Record = field(default_factory=dict)
    updated_at: str = ""


class OrgRepository(Protocol):
    def departments(self, corp_id: str) -> dict[str, Record]:
        """Every stored department, by id."""
        ...

    def department(self, corp_id: str, dept_id: str) -> Record | None: ...

    def guides(self, corp_id: str) -> dict[str, Record]:
        """Every stored guide, by user id."""
        ...

    def guide(self, corp_id: str, user_id: str) -> Record | None: ...

    def guides_in_order(self, corp_id: str) -> Iterator[Record]:
        """Every stored guide in ascending user id order, read a page at a time (a sync holds one
        page, whatever the organization's size)."""
        ...

    def apply(self, corp_id: str, changes: OrgChanges) -> None:
        """Store and remove what ``changes`` says, one item per write (an organization has no
        size limit; a sync that fails half-way is completed by the next one)."""
        ...

    def sync_status(self, corp_id: str) -> Record: ...

    def save_sync_status(self, corp_id: str, status: Record) -> None: ...

    def data_nodes(self, corp_id: str) -> StoredDataNodes | None: ...

    def save_data_nodes(
        self, corp_id: str, value: Record, updated_at: str, read: StoredDataNodes | None
    ) -> bool:
        """Store the data nodes if they are still as ``read`` (None: none stored yet); False if they
        changed meanwhile (nothing written)."""
        ...

    def overwrite_data_nodes(self, corp_id: str, value: Record, updated_at: str) -> None: ...

    def permissions(self, corp_id: str) -> Record | None: ...

    def save_permissions(self, corp_id: str, value: Record) -> None: ...

    def outlet_customer_counts(self, corp_id: str, outlet_ids: Sequence[str]) -> list[int]:
        """Customers actively bound to each outlet, in the order of ``outlet_ids``."""
        ...

    def save_contact_way(self, corp_id: str, contact_way: Record) -> None: ...

    def set_guide_welcome(self, corp_id: str, user_id: str, text: str) -> None: ...

    def customer(self, corp_id: str, customer_id: str) -> Record | None: ...

    def guide_customers(self, corp_id: str, guide_id: str) -> list[Record]:
        """The customers listed under ``guide_id`` (a moved customer may still be listed: check
        its ``guide_id``)."""
        ...

    def update_customer(self, corp_id: str, customer_id: str, changes: Record) -> None:
        """Set ``changes`` on an existing customer."""
        ...
