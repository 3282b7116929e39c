"""What the WeCom client needs kept between calls; the adapter is ``incentives.storage.tokens``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class CachedToken:
    token: str
    expires_at: datetime


class TokenCache(Protocol):
    def get(self, key: str) -> CachedToken | None: ...

    def put(self, key: str, token: CachedToken) -> None: ...

    def drop(self, key: str, token: str) -> None: ...
