"""The in-memory table, counting what an organization sync or a contact event reads: read round
trips (those answering departments apart), the stored guides they hand over, and the most guides
one answer held. Shared by the org-sync bench and the org tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from incentives.org.ports import Record
from incentives.storage.memory_table import MemoryTable
from incentives.storage.org import TableOrgRepository
from incentives.storage.table import Item, Key, Page


class ReadCountingTable(MemoryTable):
    def __init__(self) -> None:
        super().__init__()
        self.reset()

    def reset(self) -> None:
        """Count from here."""
        self.reads, self.department_reads, self.guides_read, self.largest_answer = 0, 0, 0, 0

    def _seen(self, items: Sequence[Item | None]) -> None:
        kinds = [item.get("kind") for item in items if item]
        self.reads += 1
        self.department_reads += "department" in kinds
        self.guides_read += kinds.count("guide")
        self.largest_answer = max(self.largest_answer, kinds.count("guide"))

    def get(self, key: Key) -> Item | None:
        item = super().get(key)
        self._seen([item])
        return item

    def get_many(self, keys: Sequence[Key]) -> list[Item | None]:
        items = super().get_many(keys)  # one BatchGetItem: it does not read through ``get``
        self._seen(items)
        return items

    def query(self, partition: str, **options: Any) -> Page:
        page = super().query(partition, **options)
        self._seen(page.items)
        return page


class StreamingOnly(TableOrgRepository):
    """The table's repository, refusing to hand over every stored guide at once (the sync and the
    contact events read them page by page, decisions 151 and 154)."""

    def guides(self, corp_id: str) -> dict[str, Record]:
        raise AssertionError("every stored guide was read at once")
