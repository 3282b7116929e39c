"""WeCom access tokens cached in the table, so every Lambda instance shares one per (corp, secret)."""

from __future__ import annotations

import contextlib

from incentives.core.clock import iso_utc, parse_instant
from incentives.storage.table import ConditionFailed, Delete, Equals, Put, Table
from incentives.wecom.ports import CachedToken


class TableTokenCache:
    def __init__(self, table: Table) -> None:
        self._table = table
        self._memory: dict[str, CachedToken] = {}

    @staticmethod
    def _key(key: str) -> dict[str, str]:
        corp_id = key.split("#", 1)[0]
        return {"pk": f"T#{corp_id}#WECOM_TOKEN#{key}", "sk": "TOKEN"}

    def get(self, key: str) -> CachedToken | None:
        if key in self._memory:
            return self._memory[key]
        item = self._table.get(self._key(key))
        if item is None:
            return None
        token = CachedToken(item["token"], parse_instant(item["expires_at_iso"]))
        self._memory[key] = token
        return token

    def put(self, key: str, token: CachedToken) -> None:
        self._memory[key] = token
        self._table.transact(
            [
                Put(
                    {
                        **self._key(key),
                        "kind": "wecom_token",
                        "token": token.token,
                        "expires_at_iso": iso_utc(token.expires_at),
                        "expires_at": int(token.expires_at.timestamp()),
                    }
                )
            ]
        )

    def drop(self, key: str, token: str) -> None:
        self._memory.pop(key, None)
        with contextlib.suppress(ConditionFailed):  # another instance already replaced it
            self._table.transact([Delete(self._key(key), (Equals("token", token),))])
