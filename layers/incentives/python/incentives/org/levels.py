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

from incentives.api.auth import Principal, Role
from incentives.core.clock import iso_utc
from incentives.core.errors import Forbidden, InvalidInput
from incentives.org.service import stored
from incentives.storage import keys
from incentives.storage.table import Put, Table


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


def require_writable(
    principal: Principal, levels: OrgLevels | None, item_path: Sequence[str], data_node: str | None
) -> None:
    """May ``principal`` create an item in the department ``item_path`` (root → department)?"""
    if principal.role is Role.ADMIN or levels is None:
        return
    nodes = [dept for dept in principal.dept_ids if dept in levels.node_dept_ids]
    if not nodes:
        raise Forbidden("read-only: your data node was removed; history stays visible")
    if len(nodes) > 1 and data_node is None:
        raise InvalidInput(f"you are on several data nodes {nodes}: name one", field="data_node")
    node = data_node or nodes[0]
    if node not in nodes:
        raise Forbidden(f"you are not on data node {node}")
    if node not in item_path:
        raise Forbidden(f"the item is not under data node {node}")
