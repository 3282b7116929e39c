"""Signing in, refreshing and signing out (SPEC §3.3).

- WeCom (operators, admins, guides): the code of a web OAuth / QR login → ``auth/getuserinfo``
  → the member's userid → their role (:func:`incentives.signin.staff.member_identity`).
- Mini program (customers, affiliates): ``wx.login()``'s code → ``jscode2session`` → openid and
  unionid; the unionid is the customer id (SPEC §3.2), the token's ``sub``, role ``affiliate``.
- Refresh: a single-use refresh token → a new pair. A WeCom member's role is derived again each
  time, so a member who left WeCom, left every outlet or was struck off the staff list is
  refused: guides by the synced organization (the daily sync and ``change_contact`` remove
  them), admins and operators, who may belong to no outlet, by asking WeCom (``user/get``).

Every check that can refuse runs before anything is written: a refused request changes nothing.
"""

from __future__ import annotations

import http.client
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from incentives.core.access import Role, mint_token
from incentives.core.errors import (
    DomainError,
    Forbidden,
    InvalidInput,
    TooManyRequests,
    Unauthenticated,
    UpstreamError,
)
from incentives.signin.miniprogram import MiniProgramApiError, MiniProgramClient
from incentives.signin.ports import Sessions, StaffList
from incentives.signin.sessions import (
    ACCESS_TOKEN_TTL,
    REFRESH_TOKEN_TTL,
    Identity,
    Refusal,
    SignInMethod,
    identity_of,
    new_refresh_token,
    read_refresh_token,
    refusal,
)
from incentives.signin.staff import SignInStaff, check_staff, member_identity
from incentives.wecom.client import WeComApiError, WeComClient

UNREACHABLE = (OSError, ValueError, http.client.HTTPException)
"""A provider that could not be reached, timed out or answered something unreadable."""

WECOM_INVALID_CODE = 40029
WECOM_FREQUENCY_LIMIT = 45009
WECOM_NO_SUCH_USER = 60111
WECOM_MEMBER_GONE = {2: "disabled", 5: "has left the enterprise"}
"""``user/get`` statuses that end a member's access (1 active, 4 not activated yet)."""

MINIPROGRAM_INVALID_CODE = {40029, 40163}
MINIPROGRAM_RATE_LIMIT = 45011
MINIPROGRAM_RISKY_USER = 40226
MINIPROGRAM_BUSY = -1


@dataclass(frozen=True)
class SignInPorts:
    sessions: Sessions
    staff: StaffList
    wecom_client: Callable[[str], WeComClient]
    miniprogram_client: Callable[[str], MiniProgramClient]
    api_secret: Callable[[str], str | None]
    """The tenant's ``api_jwt_secret`` (None: no such tenant)."""
    new_secret: Callable[[], str] = field(default=lambda: secrets.token_urlsafe(32))


@dataclass(frozen=True)
class Tokens:
    access_token: str
    access_expires_in: int
    refresh_token: str
    refresh_expires_in: int
    identity: Identity


def _tenant_secret(ports: SignInPorts, corp_id: str, field_name: str) -> str:
    secret = ports.api_secret(corp_id)
    if not secret:
        raise Unauthenticated(f"no tenant {corp_id}", field=field_name)
    return secret


def _issue(
    ports: SignInPorts,
    secret: str,
    corp_id: str,
    session_id: str,
    identity: Identity,
    refresh_token: str,
    now: datetime,
) -> Tokens:
    extra = {"sid": session_id, **({"openid": identity.openid} if identity.openid else {})}
    access = mint_token(
        secret,
        corp_id,
        identity.subject,
        identity.role,
        now,
        identity.dept_ids,
        ttl=ACCESS_TOKEN_TTL,
        extra_claims=extra,
    )
    return Tokens(
        access_token=access,
        access_expires_in=int(ACCESS_TOKEN_TTL.total_seconds()),
        refresh_token=refresh_token,
        refresh_expires_in=int(REFRESH_TOKEN_TTL.total_seconds()),
        identity=identity,
    )


def _open_session(
    ports: SignInPorts, secret: str, corp_id: str, method: SignInMethod, identity: Identity, now: datetime
) -> Tokens:
    session_id, refresh_token = ports.new_secret(), new_refresh_token(corp_id, ports.new_secret())
    ports.sessions.open(corp_id, session_id, method, identity, refresh_token, now)
    return _issue(ports, secret, corp_id, session_id, identity, refresh_token, now)


# --- WeCom ----------------------------------------------------------------------------------------


def _wecom_failure(error: WeComApiError) -> DomainError:
    if error.errcode == WECOM_FREQUENCY_LIMIT:
        return TooManyRequests("WeCom's frequency limit was reached; try again in a minute")
    return UpstreamError(f"WeCom refused the request (errcode {error.errcode})")


def wecom_member_identity(staff_list: StaffList, corp_id: str, user_id: str, wanted: Role | None) -> Identity:
    """The member's role from the staff list and the synced organization (one batched read)."""
    staff, is_guide = staff_list.staff_and_guide(corp_id, user_id)
    return member_identity(user_id, staff, is_guide, wanted)


def sign_in_with_wecom(
    ports: SignInPorts, corp_id: str, code: str, wanted: Role | None, now: datetime
) -> Tokens:
    """Exchange a WeCom login code for tokens of the member it names."""
    secret = _tenant_secret(ports, corp_id, "X-Corp-Id")
    if wanted is Role.AFFILIATE:
        raise InvalidInput("affiliates sign in with the mini program", field="role")
    try:
        answer = ports.wecom_client(corp_id).user_from_login_code(code)
    except WeComApiError as error:
        if error.errcode == WECOM_INVALID_CODE:
            raise InvalidInput("the code is unknown, expired or used: log in again", field="code") from None
        raise _wecom_failure(error) from None
    except UNREACHABLE:
        raise UpstreamError("WeCom could not be reached; try again") from None
    user_id = answer.get("userid") or answer.get("UserId")
    if not isinstance(user_id, str) or not user_id:
        raise Forbidden("the code belongs to someone outside the enterprise: only its members sign in here")
    identity = wecom_member_identity(ports.staff, corp_id, user_id, wanted)
    return _open_session(ports, secret, corp_id, SignInMethod.WECOM, identity, now)


def _confirm_member(client: WeComClient, user_id: str) -> None:
    """Ask WeCom whether the member is still there and active (admins and operators)."""
    try:
        member = client.member(user_id)
    except WeComApiError as error:
        if error.errcode == WECOM_NO_SUCH_USER:
            raise Forbidden(f"member {user_id} has left the enterprise", field="refresh_token") from None
        raise _wecom_failure(error) from None
    except UNREACHABLE:
        raise UpstreamError("WeCom could not be reached; try again") from None
    gone = WECOM_MEMBER_GONE.get(int(member.get("status") or 1))
    if gone:
        raise Forbidden(f"member {user_id} is {gone}", field="refresh_token")


def _current_identity(ports: SignInPorts, corp_id: str, method: str, held: Identity) -> Identity:
    """Who the session's owner is now: WeCom members are looked at again, customers stay who they are."""
    if method != SignInMethod.WECOM:
        return held
    try:
        identity = wecom_member_identity(ports.staff, corp_id, held.subject, held.role)
    except Forbidden:
        raise Forbidden(
            f"member {held.subject} may no longer sign in as {held.role.value}", field="refresh_token"
        ) from None
    if identity.role in (Role.ADMIN, Role.OPERATOR):
        _confirm_member(ports.wecom_client(corp_id), held.subject)
    return identity


# --- mini program ---------------------------------------------------------------------------------


def _miniprogram_failure(error: MiniProgramApiError) -> DomainError:
    if error.errcode in MINIPROGRAM_INVALID_CODE:
        return InvalidInput("the code is unknown, expired or used: call wx.login() again", field="code")
    if error.errcode == MINIPROGRAM_RATE_LIMIT:
        return TooManyRequests("WeChat's sign-in limit for this user was reached; try again in a minute")
    if error.errcode == MINIPROGRAM_RISKY_USER:
        return Forbidden("WeChat blocks this user's sign-in (high-risk user)", field="code")
    if error.errcode == MINIPROGRAM_BUSY:
        return UpstreamError("WeChat is busy; call wx.login() again and retry")
    return UpstreamError(f"WeChat refused the mini program's sign-in (errcode {error.errcode})")


def sign_in_with_miniprogram(ports: SignInPorts, corp_id: str, code: str, now: datetime) -> Tokens:
    """Exchange ``wx.login()``'s code for an affiliate's tokens (``sub`` = the customer's unionid)."""
    secret = _tenant_secret(ports, corp_id, "X-Corp-Id")
    client = ports.miniprogram_client(corp_id)
    try:
        user = client.code_to_session(code)
    except MiniProgramApiError as error:
        raise _miniprogram_failure(error) from None
    except UNREACHABLE:
        raise UpstreamError("WeChat could not be reached; call wx.login() again and retry") from None
    if user.unionid is None:
        raise Forbidden(
            "WeChat gave no unionid for this user: bind the mini program to the merchant's "
            "WeChat Open Platform account"
        )
    identity = Identity(Role.AFFILIATE, user.unionid, openid=user.openid)
    return _open_session(ports, secret, corp_id, SignInMethod.MINIPROGRAM, identity, now)


# --- the console's staff list ---------------------------------------------------------------------


def load_staff(staff_list: StaffList, corp_id: str) -> SignInStaff:
    return staff_list.staff(corp_id)


def save_staff(staff_list: StaffList, corp_id: str, staff: SignInStaff, now: datetime) -> SignInStaff:
    """Replace the list; the change applies at each member's next sign-in or refresh."""
    check_staff(staff, staff_list.department_ids(corp_id))
    staff_list.save_staff(corp_id, staff, now)
    return staff


# --- refresh and sign-out -------------------------------------------------------------------------


def refresh(ports: SignInPorts, refresh_token: str, now: datetime) -> Tokens:
    """A new pair for a valid refresh token, which is used up; see :mod:`incentives.signin.sessions`."""
    corp_id, token_hash = read_refresh_token(refresh_token)
    secret = _tenant_secret(ports, corp_id, "refresh_token")
    store = ports.sessions
    token, session = store.find(corp_id, token_hash)
    refused = refusal(token, session, now)
    if refused is Refusal.REPLAYED and session is not None:
        store.end(corp_id, str(session["session_id"]), now, "replayed")
    if refused is not None or session is None:
        raise Unauthenticated((refused or Refusal.UNKNOWN).value, field="refresh_token")
    identity = _current_identity(ports, corp_id, str(session["method"]), identity_of(session))
    session_id = str(session["session_id"])
    successor = new_refresh_token(corp_id, ports.new_secret())
    lost = store.rotate(corp_id, token_hash, session_id, identity, successor, now)
    if lost is Refusal.REPLAYED:  # two refreshes with one token: the session ends
        store.end(corp_id, session_id, now, "replayed")
    if lost is not None:
        raise Unauthenticated(lost.value, field="refresh_token")
    return _issue(ports, secret, corp_id, session_id, identity, successor, now)


def sign_out(ports: SignInPorts, refresh_token: str, now: datetime) -> bool:
    """End the refresh token's session (its access tokens lapse within 15 minutes).

    Like OAuth token revocation (RFC 7009), a token that is unknown or ended already is no error.
    """
    try:
        corp_id, token_hash = read_refresh_token(refresh_token)
    except Unauthenticated:
        return False
    store = ports.sessions
    token, session = store.find(corp_id, token_hash)
    if refusal(token, session, now) is Refusal.UNKNOWN or session is None:
        return False
    return store.end(corp_id, str(session["session_id"]), now, "signed out")
