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
from incentives.core.clock import parse_instant
from incentives.core.errors import Unauthenticated

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
