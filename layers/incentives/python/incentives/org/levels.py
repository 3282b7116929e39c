"""Former name of :mod:`incentives.org.data_nodes` ("levels" now means affiliate levels); kept so
that imports written before the rename still resolve."""

from __future__ import annotations

from incentives.org.data_nodes import (
    DataNodeView,
    LevelsView,
    OrgLevels,
    add_node,
    levels_view,
    load_levels,
    remove_node,
    require_writable,
    save_levels,
    visible_levels,
)

__all__ = [
    "DataNodeView",
    "LevelsView",
    "OrgLevels",
    "add_node",
    "levels_view",
    "load_levels",
    "remove_node",
    "require_writable",
    "save_levels",
    "visible_levels",
]
