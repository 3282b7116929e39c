"""The department tree, pure: outlets are the leaves, paths give operators their scope (seed 002)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Department:
    dept_id: str
    name: str
    parent_id: str | None


@dataclass(frozen=True, slots=True)
class Member:
    user_id: str
    name: str
    dept_ids: tuple[str, ...]


@dataclass(frozen=True)
class OrgTree:
    departments: Mapping[str, Department]
    children: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, departments: Iterable[Department]) -> OrgTree:
        by_id = {d.dept_id: d for d in departments}
        children: dict[str, list[str]] = {}
        for department in by_id.values():
            if department.parent_id in by_id:
                children.setdefault(department.parent_id, []).append(department.dept_id)
        return cls(by_id, {k: tuple(sorted(v)) for k, v in children.items()})

    def path(self, dept_id: str) -> tuple[str, ...]:
        """Department ids from the root down to ``dept_id`` (cycles are cut)."""
        path: list[str] = []
        current: str | None = dept_id
        while current is not None and current in self.departments and current not in path:
            path.append(current)
            current = self.departments[current].parent_id
        return tuple(reversed(path))

    def is_outlet(self, dept_id: str) -> bool:
        """Outlets are the last-level departments of the visible scope."""
        return dept_id in self.departments and not self.children.get(dept_id)

    def outlets(self) -> list[str]:
        return sorted(d for d in self.departments if self.is_outlet(d))

    def subtree(self, dept_id: str) -> set[str]:
        found, stack = set(), [dept_id]
        while stack:
            current = stack.pop()
            if current in found or current not in self.departments:
                continue
            found.add(current)
            stack.extend(self.children.get(current, ()))
        return found
