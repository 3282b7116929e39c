"""What the tag library needs from storage; the adapter is ``incentives.storage.tags``.

Records are plain attribute documents: groups (``group_id``, ``name``, ``visible``,
``wecom_group_id``) and tags (``tag_id``, ``group_id``, ``name``, ``visible``, ``wecom_tag_id``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

Record = dict[str, Any]


@dataclass(frozen=True)
class GroupChange:
    group_id: str
    set: Record = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    must_exist: bool = False


@dataclass(frozen=True)
class TagChange:
    tag_id: str
    group_id: str
    set: Record = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    must_exist: bool = False


@dataclass(frozen=True)
class TagChanges:
    """What one library change decided. New groups and tags must not exist yet."""

    groups: Sequence[GroupChange] = ()
    new_groups: Sequence[Record] = ()
    new_tags: Sequence[Record] = ()
    tags: Sequence[TagChange] = ()
    deleted_tags: Sequence[str] = ()
    deleted_groups: Sequence[str] = ()


class TagRepository(Protocol):
    def library(self, corp_id: str) -> tuple[dict[str, Record], dict[str, Record]]:
        """Every group by id, every tag by id."""
        ...

    def group(self, corp_id: str, group_id: str) -> Record | None: ...

    def tag(self, corp_id: str, tag_id: str) -> Record | None: ...

    def commit(self, corp_id: str, changes: TagChanges, *, per_transaction: int = 100) -> None:
        """Write ``changes``, ``per_transaction`` writes at a time (all at once up to that many)."""
        ...

    def guides(self, corp_id: str) -> list[Record]: ...

    def guide_customers(self, corp_id: str, guide_id: str) -> list[Record]: ...

    def set_customer_tags(self, corp_id: str, customer_id: str, tag_ids: list[str], at: datetime) -> None:
        """Replace an existing customer's tags."""
        ...
