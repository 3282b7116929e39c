"""The WeChat Store console's routes (one Powertools ``Router``); ``app.py`` includes them.

These modules ship with the function (its ``CodeUri``) and are imported as ``routes.<area>``, the
function's folder being on the path as Lambda's task root is.
"""

from __future__ import annotations

from incentives.core.access import Role

ADMINS = (Role.ADMIN,)
