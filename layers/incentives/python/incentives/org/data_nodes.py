"""Intermediate levels and data nodes (seed 002 "Organization Management").

The operator names a level (e.g. "Retail Company") and picks departments as data nodes. An
operator sees their departments and all sub-departments. An operator whose departments are
no longer data nodes keeps read access to history but may not create anything; an operator
on several nodes names the node an item belongs to.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, Field

from incentives.core.clock import iso_utc
from incentives.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from incentives.org.ports import ADMIN, OrgRepository, Viewer


class OrgLevels(BaseModel):
    level_name: str = Field(default="", max_length=20, description='e.g. "Retail Company"')
    node_dept_ids: list[str] = Field(default_factory=list, description="Departments chosen as data nodes")


def load_levels(repo: OrgRepository, corp_id: str) -> OrgLevels | None:
    stored = repo.data_nodes(corp_id)
    return OrgLevels.model_validate(stored.value) if stored else None


def save_levels(repo: OrgRepository, corp_id: str, levels: OrgLevels, now: datetime) -> OrgLevels:
    known = set(repo.departments(corp_id))
    unknown = [dept for dept in levels.node_dept_ids if dept not in known]
    if unknown:
        raise InvalidInput(
            f"not departments of the organization: {unknown}; sync first", field="node_dept_ids"
        )
    repo.overwrite_data_nodes(corp_id, levels.model_dump(), iso_utc(now))
    return levels


class DataNodeView(BaseModel):
    dept_id: str
    name: str = Field(description="The department's name (empty if WeCom no longer has it)")
    path: list[str] = Field(description="Department ids from the root to the node")
    path_names: list[str] = Field(description="The same departments' names")


class LevelsView(OrgLevels):
    nodes: list[DataNodeView] = Field(default_factory=list, description="The data nodes with their names")


def levels_view(repo: OrgRepository, principal: Viewer, query: str | None = None) -> LevelsView:
    """The levels as ``principal`` sees them, each node with its department's name; ``query``
    keeps the nodes whose name contains it (case-insensitive)."""
    levels = visible_levels(repo, principal, load_levels(repo, principal.corp_id))
    departments = repo.departments(principal.corp_id)
    needle = (query or "").strip().casefold()
    nodes = []
    for dept_id in levels.node_dept_ids:
        item = departments.get(dept_id, {})
        path = [str(d) for d in item.get("path", [dept_id])]
        name = str(item.get("name", ""))
        if needle and needle not in name.casefold():
            continue
        names = [str(departments.get(d, {}).get("name", "")) for d in path]
        nodes.append(DataNodeView(dept_id=dept_id, name=name, path=path, path_names=names))
    return LevelsView(level_name=levels.level_name, node_dept_ids=[n.dept_id for n in nodes], nodes=nodes)


def _change_nodes(repo: OrgRepository, corp_id: str, change: str, dept_id: str, now: datetime) -> None:
    """Add or remove one data node; a concurrent change of the levels answers 409, nothing changed."""
    read = repo.data_nodes(corp_id)
    levels = OrgLevels.model_validate(read.value) if read else OrgLevels()
    nodes = list(levels.node_dept_ids)
    if change == "add":
        if dept_id in nodes:
            raise Conflict(f"department {dept_id} is already a data node", field="dept_id")
        if dept_id not in repo.departments(corp_id):
            raise InvalidInput(
                f"not a department of the organization: {dept_id}; sync first", field="dept_id"
            )
        nodes.append(dept_id)
    else:
        if dept_id not in nodes:
            raise NotFound(f"department {dept_id} is not a data node", field="dept_id")
        nodes.remove(dept_id)
    value = OrgLevels(level_name=levels.level_name, node_dept_ids=nodes).model_dump()
    if not repo.save_data_nodes(corp_id, value, iso_utc(now), read):
        raise Conflict("the data nodes changed meanwhile; read them and try again")


def add_node(repo: OrgRepository, corp_id: str, dept_id: str, now: datetime) -> None:
    """Make one department a data node (seed 002: "add new intermediate-level departments")."""
    _change_nodes(repo, corp_id, "add", dept_id, now)


def remove_node(repo: OrgRepository, corp_id: str, dept_id: str, now: datetime) -> None:
    """Remove one data node: its operators keep reading history but create nothing
    (``require_writable``)."""
    _change_nodes(repo, corp_id, "remove", dept_id, now)


def visible_levels(repo: OrgRepository, principal: Viewer, levels: OrgLevels | None) -> OrgLevels:
    """The levels as ``principal`` may see them: the data nodes inside their scope (all, for admins)."""
    levels = levels or OrgLevels()
    if principal.role == ADMIN:
        return levels
    paths = {dept_id: item.get("path", []) for dept_id, item in repo.departments(principal.corp_id).items()}
    nodes = [node for node in levels.node_dept_ids if principal.sees_department_path(paths.get(node, [node]))]
    return OrgLevels(level_name=levels.level_name, node_dept_ids=nodes)


def require_writable(
    principal: Viewer, levels: OrgLevels | None, item_path: Sequence[str], data_node: str | None
) -> str | None:
    """The data node in which ``principal`` writes an item of the department ``item_path`` (root →
    department), or the reason they may not (seed 002: a removed node's accounts only read history;
    an operator on several nodes names one).

    - Admins write anywhere; a node they name must be on the item's path (400).
    - Before any levels are configured, an operator's departments stand for their nodes, and the
      item must be under one of them; naming one is optional.
    - Once configured, an operator's nodes are those of their departments that are data nodes:
      none → read-only (403); several and none named → 400 naming ``data_node``; a named node
      must be one of theirs (403) and the item must be under the node (403).
    """
    if principal.role == ADMIN:
        if data_node is not None and data_node not in item_path:
            raise InvalidInput(f"the item is not under department {data_node}", field="data_node")
        return data_node
    if levels is None:
        nodes = list(principal.dept_ids)
        if data_node is None:
            data_node = next((dept for dept in nodes if dept in item_path), None)
    else:
        nodes = [dept for dept in principal.dept_ids if dept in levels.node_dept_ids]
        if not nodes:
            raise Forbidden(
                "read-only: your departments are no longer data nodes; their history stays visible"
            )
        if data_node is None:
            if len(nodes) > 1:
                raise InvalidInput(f"you are on several data nodes {nodes}: name one", field="data_node")
            data_node = nodes[0]
    if data_node is None:
        raise Forbidden("the item is not under any of your departments")
    if data_node not in nodes:
        raise Forbidden(f"you are not on data node {data_node}", field="data_node")
    if data_node not in item_path:
        raise Forbidden(f"the item is not under data node {data_node}", field="data_node")
    return data_node
