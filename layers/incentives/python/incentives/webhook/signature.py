"""Request signing for the commerce webhook (SPEC §3.2).

``X-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw_body)>`` with the
unix-seconds ``X-Timestamp``; a timestamp more than 300 s away from now is refused, so a
captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from incentives.core.errors import Unauthenticated

REPLAY_WINDOW_SECONDS = 300
MAX_TIMESTAMP_DIGITS = 12
"""Unix seconds have 10 digits until the year 2286; a longer header is not a timestamp."""
SCHEME = "sha256="


def sign(secret: str, timestamp: int | str, raw_body: bytes) -> str:
    """Return the ``X-Signature`` header value for a body sent at ``timestamp``."""
    message = str(timestamp).encode() + b"." + raw_body
    return SCHEME + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp_header: str | None,
    signature_header: str | None,
    raw_body: bytes,
    now: datetime,
    *,
    window_seconds: int = REPLAY_WINDOW_SECONDS,
) -> None:
    """Raise :class:`Unauthenticated` unless the request is signed by ``secret`` and fresh."""
    if not timestamp_header:
        raise Unauthenticated("missing X-Timestamp header", field="X-Timestamp")
    if not signature_header:
        raise Unauthenticated("missing X-Signature header", field="X-Signature")
    stamp = timestamp_header.strip()
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= MAX_TIMESTAMP_DIGITS):
        raise Unauthenticated("X-Timestamp must be unix seconds", field="X-Timestamp")
    timestamp = int(stamp)
    if abs(now.timestamp() - timestamp) > window_seconds:
        raise Unauthenticated(
            f"X-Timestamp is more than {window_seconds} s away from the server clock", field="X-Timestamp"
        )
    expected = sign(secret, stamp, raw_body)
    if not hmac.compare_digest(expected.encode(), signature_header.strip().encode()):
        raise Unauthenticated("X-Signature does not match the body", field="X-Signature")
