"""Sign-in sessions and their refresh tokens (SPEC §3.3: short-lived, refreshable, revocable).

A sign-in opens a session and answers a pair: an access token (a JWT the APIs check, valid
:data:`ACCESS_TOKEN_TTL`) and a refresh token, opaque, ``<corp_id>.<43 url-safe random
characters>``, valid :data:`REFRESH_TOKEN_TTL`. Only the refresh token's SHA-256 is stored, so
reading the table yields no usable token.

A refresh token is single use. Refreshing marks it used and stores its successor in one
transaction, on condition that both the token and its session are still active. A used token
presented again means two parties hold it (a stolen copy, or a client that lost an answer): the
session ends, which makes its newest token useless as well, and its owner signs in again. A
session lasts at most :data:`SESSION_LIFETIME` from sign-in, however often it is refreshed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from incentives.core.access import Role
from incentives.core.clock import iso_utc, parse_instant
from incentives.core.errors import Unauthenticated
from incentives.storage import keys
from incentives.storage.table import ConditionFailed, Equals, NotExists, Put, Table, Update

ACCESS_TOKEN_TTL = timedelta(minutes=15)
REFRESH_TOKEN_TTL = timedelta(days=14)
SESSION_LIFETIME = timedelta(days=90)

_REFRESH_TOKEN = re.compile(r"([A-Za-z0-9_\-]{1,64})\.([A-Za-z0-9_\-]{43})")


class SignInMethod(StrEnum):
    WECOM = "wecom"
    MINIPROGRAM = "miniprogram"


@dataclass(frozen=True)
class Identity:
    """Who a session signs in, as its access tokens' claims say it."""

    role: Role
    subject: str
    dept_ids: tuple[str, ...] = ()
    openid: str | None = None
    """A mini-program user's openid under the merchant's app (customers only)."""


class Refusal(StrEnum):
    """Why a refresh token may not be used."""

    UNKNOWN = "not a refresh token this service issued"
    ENDED = "the session has ended; sign in again"
    REPLAYED = "the refresh token was used already; the session has ended, sign in again"
    EXPIRED = "the refresh token has expired; sign in again"
    TOO_OLD = "the session is older than its lifetime; sign in again"


def session_key(corp_id: str, session_id: str) -> dict[str, str]:
    return {"pk": f"{keys.tenant(corp_id)}#SESSION#{session_id}", "sk": "SESSION"}


def refresh_token_key(corp_id: str, token_hash: str) -> dict[str, str]:
    return {"pk": f"{keys.tenant(corp_id)}#REFRESH#{token_hash}", "sk": "REFRESH"}


def new_refresh_token(corp_id: str, random_part: str) -> str:
    """``random_part``: 32 random bytes, url-safe base64 without padding (``secrets.token_urlsafe(32)``)."""
    token = f"{corp_id}.{random_part}"
    if not _REFRESH_TOKEN.fullmatch(token):
        raise ValueError("a refresh token needs a corp id and 43 url-safe random characters")
    return token


def read_refresh_token(text: str) -> tuple[str, str]:
    """The tenant and the SHA-256 (hex) of a presented refresh token; 401 when it cannot be one."""
    match = _REFRESH_TOKEN.fullmatch(text.strip())
    if match is None:
        raise Unauthenticated(Refusal.UNKNOWN.value, field="refresh_token")
    return match.group(1), hashlib.sha256(match.group(0).encode()).hexdigest()


def refusal(token: dict[str, Any] | None, session: dict[str, Any] | None, now: datetime) -> Refusal | None:
    """Whether a stored refresh token and its session allow a refresh at ``now`` (None: they do)."""
    if token is None or session is None or token.get("session_id") != session.get("session_id"):
        return Refusal.UNKNOWN
    if session["status"] != "active":
        return Refusal.ENDED
    if token["status"] != "active":
        return Refusal.REPLAYED
    if now >= parse_instant(token["expires_at_iso"]):
        return Refusal.EXPIRED
    if now >= parse_instant(session["signed_in_at"]) + SESSION_LIFETIME:
        return Refusal.TOO_OLD
    return None


def identity_of(session: dict[str, Any]) -> Identity:
    return Identity(
        role=Role(session["role"]),
        subject=str(session["subject"]),
        dept_ids=tuple(session.get("dept_ids") or ()),
        openid=session.get("openid") or None,
    )


def _identity_fields(identity: Identity) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "role": identity.role.value,
        "subject": identity.subject,
        "dept_ids": list(identity.dept_ids),
    }
    if identity.openid:
        fields["openid"] = identity.openid
    return fields


def _token_item(corp_id: str, token: str, session_id: str, now: datetime) -> dict[str, Any]:
    expires = now + REFRESH_TOKEN_TTL
    return {
        **refresh_token_key(corp_id, read_refresh_token(token)[1]),
        "kind": "refresh_token",
        "corp_id": corp_id,
        "session_id": session_id,
        "status": "active",
        "issued_at": iso_utc(now),
        "expires_at_iso": iso_utc(expires),
        "expires_at": int(expires.timestamp()),
    }


class SessionStore:
    """Sessions and refresh tokens in the table (one session item, one item per refresh token)."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def open(
        self,
        corp_id: str,
        session_id: str,
        method: SignInMethod,
        identity: Identity,
        refresh_token: str,
        now: datetime,
    ) -> None:
        ends = now + SESSION_LIFETIME
        session = {
            **session_key(corp_id, session_id),
            "kind": "sign_in_session",
            "corp_id": corp_id,
            "session_id": session_id,
            "method": method.value,
            **_identity_fields(identity),
            "status": "active",
            "signed_in_at": iso_utc(now),
            "refreshed_at": iso_utc(now),
            "refreshes": 0,
            "expires_at": int(ends.timestamp()),
        }
        self._table.transact(
            [
                Put(session, (NotExists(),)),
                Put(_token_item(corp_id, refresh_token, session_id, now), (NotExists(),)),
            ]
        )

    def find(self, corp_id: str, token_hash: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The stored refresh token and its session (None where missing)."""
        token = self._table.get(refresh_token_key(corp_id, token_hash))
        if token is None:
            return None, None
        return token, self._table.get(session_key(corp_id, str(token["session_id"])))

    def rotate(
        self,
        corp_id: str,
        token_hash: str,
        session_id: str,
        identity: Identity,
        next_token: str,
        now: datetime,
    ) -> None:
        """Use the token and store its successor; :class:`Unauthenticated` when a race lost.

        A lost race on the token itself is a replay (two refreshes with one token): the session ends.
        """
        successor = _token_item(corp_id, next_token, session_id, now)
        try:
            self._table.transact(
                [
                    Update(
                        refresh_token_key(corp_id, token_hash),
                        set={"status": "used", "used_at": iso_utc(now), "replaced_by": successor["pk"]},
                        conditions=(Equals("status", "active"),),
                    ),
                    Put(successor, (NotExists(),)),
                    Update(
                        session_key(corp_id, session_id),
                        set={**_identity_fields(identity), "refreshed_at": iso_utc(now)},
                        add={"refreshes": 1},
                        conditions=(Equals("status", "active"),),
                    ),
                ]
            )
        except ConditionFailed as failed:
            if 0 in failed.failed:
                self.end(corp_id, session_id, now, "replayed")
                raise Unauthenticated(Refusal.REPLAYED.value, field="refresh_token") from None
            raise Unauthenticated(Refusal.ENDED.value, field="refresh_token") from None

    def end(self, corp_id: str, session_id: str, now: datetime, reason: str) -> bool:
        """End a session (sign-out, replay); False when it had ended already."""
        try:
            self._table.transact(
                [
                    Update(
                        session_key(corp_id, session_id),
                        set={"status": "ended", "ended_at": iso_utc(now), "end_reason": reason},
                        conditions=(Equals("status", "active"),),
                    )
                ]
            )
        except ConditionFailed:
            return False
        return True
