"""The console's routes, one Powertools ``Router`` per area; ``app.py`` includes them all.

These modules ship with the function (its ``CodeUri``) and are imported as ``routes.<area>``, the
function's folder being on the path as Lambda's task root is. Handlers stay thin: authorize,
call the area's service, return its typed answer (``incentives.api.views`` for answers the
domain gives as plain data).
"""
