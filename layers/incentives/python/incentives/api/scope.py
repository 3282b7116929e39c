"""Who may read and write what on the console (SPEC §4.2, seed 002 "Organization Management").

Reading: an operator sees the items whose department path passes through one of their
departments (:meth:`Principal.sees_department_path`); lists leave the rest out, a request by id
answers 404, summaries count only what is shown.

Writing: every console write route authorizes here, in one of two ways:

- :func:`authorize_write` for what admins and operators may change: it authenticates, resolves the
  target's department path (404 for what the caller cannot see), then applies the data-node rule
  (:func:`incentives.org.data_nodes.require_writable`): an operator whose departments are no longer
  data nodes only reads history, an operator on several nodes names one (``data_node``) and the
  target must be under it;
- :func:`admin_only` for the tenant's settings (levels, tag library, permissions, rules, sync),
  which belong to no department.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from pydantic import BaseModel, Field

from incentives.api.app import principal_of
from incentives.core.access import Principal, Role
from incentives.org.data_nodes import load_levels, require_writable
from incentives.storage.org import TableOrgRepository
from incentives.storage.table import Table

CONSOLE = (Role.ADMIN, Role.OPERATOR)
ADMINS = (Role.ADMIN,)

DATA_NODE_DESCRIPTION = (
    "The data node (a department id) the change is made in. Required for an operator on several "
    "data nodes; it must be one of theirs and contain the target. Optional for an operator on one "
    "node and for admins."
)


class NodeChoice(BaseModel):
    """The ``data_node`` part of a console write's body."""

    data_node: str | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        pattern=r"^[0-9A-Za-z_-]+$",
        description=DATA_NODE_DESCRIPTION,
    )


@dataclass(frozen=True)
class WriteGrant:
    principal: Principal
    data_node: str | None
    """The node the change is made in (None for an admin who named none)."""


def authorize_write(
    app: BaseRouter,
    table: Table,
    data_node: str | None,
    target_path: Callable[[Principal], Sequence[str]],
) -> WriteGrant:
    """May the caller change the target? ``target_path`` gives its department path (root → its
    department) as the caller sees it, raising ``NotFound`` when they cannot see it."""
    principal = principal_of(app, CONSOLE)
    path = target_path(principal)
    node = require_writable(
        principal, load_levels(TableOrgRepository(table), principal.corp_id), path, data_node
    )
    return WriteGrant(principal, node)


def admin_only(app: BaseRouter) -> Principal:
    """A change to the tenant's settings: admins only (operators get 403, whatever their nodes)."""
    return principal_of(app, ADMINS)
