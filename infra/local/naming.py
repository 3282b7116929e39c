"""The one naming convention between template functions and their sample events.

``OrderWebhookFunction`` keeps its samples under ``events/order_webhook/``.
"""

from __future__ import annotations

import re


def events_dir_of(function: str) -> str:
    stem = function.removesuffix("Function")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", stem).lower()
