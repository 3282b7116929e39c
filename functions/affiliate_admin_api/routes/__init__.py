"""The affiliate console's routes, one Powertools ``Router`` per area; ``app.py`` includes them all.

These modules ship with the function (its ``CodeUri``) and are imported as ``routes.<area>``, the
function's folder being on the path as Lambda's task root is.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from incentives.core.access import Role

ADMINS = (Role.ADMIN,)
Id = Annotated[str, Path(max_length=128, pattern=r"^[A-Za-z0-9_.:@\-]+$")]
"""An affiliate, customer, store or withdrawal id in a path."""
