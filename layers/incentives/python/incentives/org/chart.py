"""The organization chart for operators (seed 002 "Search and filter outlets"): the department
tree in the caller's scope with counts, searchable by name; its ids feed the outlet filter
(``GET /admin/outlets?subtree=``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from incentives.org.data_nodes import load_levels
from incentives.org.ports import OrgRepository, Viewer


class DepartmentNodeView(BaseModel):
    dept_id: str
    name: str
    parent_id: str | None = Field(description="None for the roots of the caller's scope")
    path: list[str] = Field(description="Department ids from the root of the organization")
    is_outlet: bool
    is_data_node: bool
    outlet_count: int = Field(description="Outlets in this subtree")
    guide_count: int = Field(description="Guides of those outlets")
    customer_count: int = Field(description="Customers associated with those outlets")
    matched: bool = Field(description="The name contains the search (always true without one)")


def _order(item: dict[str, Any]) -> list[str]:
    return [str(d).zfill(12) for d in item.get("path", [])]


def org_chart(repo: OrgRepository, principal: Viewer, query: str | None = None) -> list[DepartmentNodeView]:
    """The departments ``principal`` sees, depth first, each with its subtree's counts. With
    ``query`` (case-insensitive substring of the name): the matching departments and the
    ancestors that lead to them, inside the caller's scope."""
    departments = {
        dept_id: item
        for dept_id, item in repo.departments(principal.corp_id).items()
        if principal.sees_department_path([str(d) for d in item.get("path", [])])
    }
    guides = list(repo.guides(principal.corp_id).values())
    levels = load_levels(repo, principal.corp_id)
    nodes = set(levels.node_dept_ids) if levels else set()
    outlets_under: dict[str, set[str]] = {dept_id: set() for dept_id in departments}
    for item in departments.values():
        if item.get("is_outlet"):
            for ancestor in item.get("path", []):
                if ancestor in outlets_under:
                    outlets_under[ancestor].add(item["dept_id"])
    needle = (query or "").strip().casefold()
    matched = {d for d, item in departments.items() if needle in str(item["name"]).casefold()}
    shown = {
        ancestor for d in matched for ancestor in departments[d].get("path", []) if ancestor in departments
    }
    counted = sorted({o for d in shown for o in outlets_under[d]})
    customers = dict(zip(counted, repo.outlet_customer_counts(principal.corp_id, counted), strict=True))
    found = []
    for dept_id in sorted(shown, key=lambda d: _order(departments[d])):
        item = departments[dept_id]
        outlets = outlets_under[dept_id]
        parent = item.get("parent_id") or None
        found.append(
            DepartmentNodeView(
                dept_id=dept_id,
                name=item["name"],
                parent_id=parent if parent in departments else None,
                path=[str(d) for d in item.get("path", [])],
                is_outlet=bool(item.get("is_outlet")),
                is_data_node=dept_id in nodes,
                outlet_count=len(outlets),
                guide_count=sum(1 for g in guides if outlets.intersection(g.get("outlet_ids", []))),
                customer_count=sum(customers[o] for o in outlets),
                matched=dept_id in matched,
            )
        )
    return found
