"""The local runtime: the whole stack of template.yaml on one machine, no cloud account.

``python -m infra.local run`` starts an embedded AWS endpoint (moto, server mode) holding
the template's tables, queues and secrets; an API gateway on 127.0.0.1 serving the
template's routes through the real handlers; an SQS poller per event source mapping; a
scheduler for the template's schedules; and the sandbox servers of external services.
"""

import sys
from pathlib import Path

# The local runtime hosts the layer's code (and its sandboxes reuse the layer's protocol code).
_LAYER = str(Path(__file__).resolve().parents[2] / "layers" / "incentives" / "python")
if _LAYER not in sys.path:
    sys.path.insert(0, _LAYER)
