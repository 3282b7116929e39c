"""Seed 002's data nodes: where an operator may write, and what they see of the levels."""

from __future__ import annotations

import pytest

from incentives.core.access import Principal, Role
from incentives.core.errors import DomainError, Forbidden, InvalidInput
from incentives.org.data_nodes import OrgLevels, require_writable, visible_levels
from incentives.storage.keys import dept_key
from incentives.storage.memory_table import MemoryTable
from incentives.storage.org import TableOrgRepository
from incentives.storage.table import Put

EAST_OUTLET = ("1", "2", "21")
"""The department path of outlet 21 (品牌总部 › 华东零售公司 › 上海静安店)."""

NODES = OrgLevels(level_name="零售公司", node_dept_ids=["2", "3"])


def _operator(*dept_ids: str) -> Principal:
    return Principal("ww-1", "ops", Role.OPERATOR, dept_ids)


ADMIN = Principal("ww-1", "root", Role.ADMIN)


@pytest.mark.parametrize(
    ("principal", "levels", "data_node", "node"),
    [
        (ADMIN, NODES, None, None),
        (ADMIN, NODES, "2", "2"),
        (_operator("2"), NODES, None, "2"),  # one node: implied
        (_operator("2"), NODES, "2", "2"),
        (_operator("2", "3"), NODES, "2", "2"),  # several: named
        (_operator("2", "21"), NODES, None, "2"),  # 21 is not a node: one node left
        (_operator("2"), None, None, "2"),  # no levels yet: their departments
        (_operator("2", "3"), None, None, "2"),  # … the one the item is under
        (_operator("21"), None, "21", "21"),
    ],
)
def test_a_change_is_made_in_a_node_of_the_caller_that_contains_the_item(
    principal: Principal, levels: OrgLevels | None, data_node: str | None, node: str | None
) -> None:
    assert require_writable(principal, levels, EAST_OUTLET, data_node) == node


@pytest.mark.parametrize(
    ("principal", "levels", "data_node", "refusal", "field"),
    [
        # a removed node: its accounts only read history
        (_operator("2"), OrgLevels(node_dept_ids=["3"]), None, Forbidden, None),
        (_operator("2"), OrgLevels(node_dept_ids=["3"]), "2", Forbidden, None),
        (_operator("2"), OrgLevels(), None, Forbidden, None),
        (_operator(), NODES, None, Forbidden, None),
        # several nodes: name one, of yours, that contains the item
        (_operator("2", "3"), NODES, None, InvalidInput, "data_node"),
        (_operator("2", "3"), NODES, "3", Forbidden, "data_node"),
        (_operator("2", "3"), NODES, "99", Forbidden, "data_node"),
        (_operator("2"), NODES, "3", Forbidden, "data_node"),
        (_operator("3"), NODES, None, Forbidden, "data_node"),
        (_operator("2"), None, "3", Forbidden, "data_node"),
        (_operator("3"), None, None, Forbidden, None),
        (ADMIN, NODES, "3", InvalidInput, "data_node"),
    ],
)
def test_a_change_is_refused_outside_the_callers_nodes(
    principal: Principal,
    levels: OrgLevels | None,
    data_node: str | None,
    refusal: type[DomainError],
    field: str | None,
) -> None:
    with pytest.raises(refusal) as raised:
        require_writable(principal, levels, EAST_OUTLET, data_node)
    assert type(raised.value) is refusal and raised.value.field == field


def test_an_operator_sees_the_data_nodes_in_their_subtrees_only() -> None:
    table = MemoryTable()
    for dept, path in {"1": ["1"], "2": ["1", "2"], "21": ["1", "2", "21"], "3": ["1", "3"]}.items():
        table.transact(
            [
                Put(
                    {
                        **dept_key("ww-1", dept),
                        "dept_id": dept,
                        "path": path,
                        "gsi2pk": "T#ww-1#DEPTS",
                        "gsi2sk": dept,
                    }
                )
            ]
        )
    levels = OrgLevels(level_name="零售公司", node_dept_ids=["2", "21", "3"])
    org = TableOrgRepository(table)
    assert visible_levels(org, _operator("2"), levels).node_dept_ids == ["2", "21"]
    assert visible_levels(org, _operator("3"), levels).node_dept_ids == ["3"]
    assert visible_levels(org, _operator("99"), levels).node_dept_ids == []
    assert visible_levels(org, ADMIN, levels) == levels
    assert visible_levels(org, _operator("2"), None) == OrgLevels()
