"""Tag rules, pure: importing WeCom's corp tag library, and segment matching (seed 002).

Import rules:
- an imported group that already exists (same name) receives the new tags;
- within a group, tags with the same name collapse into one;
- a name that several imported groups share becomes one tag, in one of those groups (the
  first in WeCom's order: deterministic, which the seed leaves open);
- a name the library already has is not imported again;
- empty groups are not imported; tag-customer relations are not imported.

Segments: tags chosen in one group combine with OR, across groups with AND.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LibraryTag:
    tag_id: str
    group_id: str
    name: str


@dataclass(frozen=True)
class LibraryGroup:
    group_id: str
    name: str


@dataclass(frozen=True)
class ImportPlan:
    new_groups: tuple[str, ...] = ()
    """Names of groups to create."""
    new_tags: tuple[tuple[str, str], ...] = ()
    """(group name, tag name) to create, in order."""
    skipped: tuple[str, ...] = field(default=())
    """What was not imported, and why."""


def plan_import(
    groups: Sequence[LibraryGroup], tags: Sequence[LibraryTag], wecom_groups: Sequence[Mapping[str, object]]
) -> ImportPlan:
    """What importing ``wecom_groups`` (get_corp_tag_list's ``tag_group``) adds to the library."""
    group_names = {group.name for group in groups}
    known_names = {tag.name for tag in tags}
    new_groups: list[str] = []
    new_tags: list[tuple[str, str]] = []
    skipped: list[str] = []
    for wecom_group in wecom_groups:
        name = str(wecom_group.get("group_name", "")).strip()
        entries = [
            str(t.get("name", "")).strip()
            for t in wecom_group.get("tag", []) or []  # type: ignore[attr-defined]
            if str(t.get("name", "")).strip()
        ]
        if not name or not entries:
            skipped.append(f"group {name or '?'}: empty, not imported")
            continue
        adding = []
        for tag_name in entries:
            if tag_name in known_names:
                skipped.append(f"tag {tag_name} in {name}: the library already has this name")
                continue
            known_names.add(tag_name)
            adding.append((name, tag_name))
        if adding and name not in group_names:
            group_names.add(name)
            new_groups.append(name)
        new_tags.extend(adding)
    return ImportPlan(tuple(new_groups), tuple(new_tags), tuple(skipped))


def matches(customer_tag_ids: Iterable[str], selection: Mapping[str, Iterable[str]]) -> bool:
    """Does a customer with ``customer_tag_ids`` fall in the segment ``selection`` (group → tag ids)?"""
    owned = set(customer_tag_ids)
    return all(owned & set(chosen) for chosen in selection.values() if set(chosen))
