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

from incentives.core.access import Principal, Role
from incentives.core.clock import iso_utc
from incentives.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from incentives.org.service import stored
from incentives.storage import keys
from incentives.storage.table import ConditionFailed, Equals, NotExists, Put, Table


class OrgLevels(BaseModel):
    level_name: str = Field(default="", max_length=20, description='e.g. "Retail Company"')
    node_dept_ids: list[str] = Field(default_factory=list, description="Departments chosen as data nodes")


def levels_key(corp_id: str) -> dict[str, str]:
    return {"pk": f"{keys.tenant(corp_id)}#SETTINGS#ORG_LEVELS", "sk": "SETTINGS"}


def load_levels(table: Table, corp_id: str) -> OrgLevels | None:
    item = table.get(levels_key(corp_id))
    return OrgLevels.model_validate(item["value"]) if item else None


def save_levels(table: Table, corp_id: str, levels: OrgLevels, now: datetime) -> OrgLevels:
    known = {item["dept_id"] for item in stored(table, corp_id, "DEPTS").values()}
    unknown = [dept for dept in levels.node_dept_ids if dept not in known]
    if unknown:
        raise InvalidInput(
            f"not departments of the organization: {unknown}; sync first", field="node_dept_ids"
        )
    table.transact(
        [
            Put(
                {
                    **levels_key(corp_id),
                    "kind": "settings",
                    "value": levels.model_dump(),
                    "updated_at": iso_utc(now),
                }
            )
        ]
    )
    return levels


class DataNodeView(BaseModel):
    dept_id: str
    name: str = Field(description="The department's name (empty if WeCom no longer has it)")
    path: list[str] = Field(description="Department ids from the root to the node")
    path_names: list[str] = Field(description="The same departments' names")


class LevelsView(OrgLevels):
    nodes: list[DataNodeView] = Field(default_factory=list, description="The data nodes with their names")


def levels_view(table: Table, principal: Principal, query: str | None = None) -> LevelsView:
    """The levels as ``principal`` sees them, each node with its department's name; ``query``
    keeps the nodes whose name contains it (case-insensitive)."""
    levels = visible_levels(table, principal, load_levels(table, principal.corp_id))
    departments = {item["dept_id"]: item for item in stored(table, principal.corp_id, "DEPTS").values()}
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


def _change_nodes(table: Table, corp_id: str, change: str, dept_id: str, now: datetime) -> None:
    """Add or remove one data node; a concurrent change of the levels answers 409, nothing changed."""
    item = table.get(levels_key(corp_id))
    levels = OrgLevels.model_validate(item["value"]) if item else OrgLevels()
    nodes = list(levels.node_dept_ids)
    if change == "add":
        if dept_id in nodes:
            raise Conflict(f"department {dept_id} is already a data node", field="dept_id")
        known = {d["dept_id"] for d in stored(table, corp_id, "DEPTS").values()}
        if dept_id not in known:
            raise InvalidInput(
                f"not a department of the organization: {dept_id}; sync first", field="dept_id"
            )
        nodes.append(dept_id)
    else:
        if dept_id not in nodes:
            raise NotFound(f"department {dept_id} is not a data node", field="dept_id")
        nodes.remove(dept_id)
    condition = Equals("updated_at", item["updated_at"]) if item else NotExists()
    value = OrgLevels(level_name=levels.level_name, node_dept_ids=nodes).model_dump()
    try:
        table.transact(
            [
                Put(
                    {**levels_key(corp_id), "kind": "settings", "value": value, "updated_at": iso_utc(now)},
                    (condition,),
                )
            ]
        )
    except ConditionFailed:
        raise Conflict("the data nodes changed meanwhile; read them and try again") from None


def add_node(table: Table, corp_id: str, dept_id: str, now: datetime) -> None:
    """Make one department a data node (seed 002: "add new intermediate-level departments")."""
    _change_nodes(table, corp_id, "add", dept_id, now)


def remove_node(table: Table, corp_id: str, dept_id: str, now: datetime) -> None:
    """Remove one data node: its operators keep reading history but create nothing
    (``require_writable``)."""
    _change_nodes(table, corp_id, "remove", dept_id, now)


def visible_levels(table: Table, principal: Principal, levels: OrgLevels | None) -> OrgLevels:
    """The levels as ``principal`` may see them: the data nodes inside their scope (all, for admins)."""
    levels = levels or OrgLevels()
    if principal.role is Role.ADMIN:
        return levels
    paths = {
        item["dept_id"]: item.get("path", []) for item in stored(table, principal.corp_id, "DEPTS").values()
    }
    nodes = [node for node in levels.node_dept_ids if principal.sees_department_path(paths.get(node, [node]))]
    return OrgLevels(level_name=levels.level_name, node_dept_ids=nodes)


def require_writable(
    principal: Principal, levels: OrgLevels | None, item_path: Sequence[str], data_node: str | None
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
    if principal.role is Role.ADMIN:
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
