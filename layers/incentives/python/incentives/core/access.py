"""Bearer JWT for the operator, guide and affiliate APIs (SPEC §3.3).

Tokens are HS256, signed with the tenant's ``api_jwt_secret``; claims: ``corp_id`` (the
tenant), ``sub``, ``role`` (admin, operator, guide, affiliate), ``dept_ids`` (operators),
``exp``, ``typ`` (``access``). The tenant is read from the token first (unverified) only to
choose the key; the token is then verified with that key, so a token cannot claim a tenant it
was not signed for. A token whose ``typ`` is anything but ``access`` is refused, so no other
kind of token signed with the same key is ever taken for an access token (tokens minted before
``typ`` existed carry none and are accepted).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from incentives.core.errors import Forbidden, Unauthenticated

ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    GUIDE = "guide"
    AFFILIATE = "affiliate"


@dataclass(frozen=True)
class Principal:
    corp_id: str
    subject: str
    role: Role
    dept_ids: tuple[str, ...] = ()
    openid: str | None = None
    """The WeChat openid the mini program sign-in verified (``jscode2session``), when it carried one."""

    def sees_department_path(self, dept_path: Iterable[str]) -> bool:
        """Admins see the whole tenant; operators their departments and every sub-department.

        ``dept_path`` lists the department ids from the root down to an item's department, so
        the item is in an operator's scope when any of the operator's departments is on it.
        """
        if self.role is Role.ADMIN:
            return True
        if self.role is Role.OPERATOR:
            return any(dept in self.dept_ids for dept in dept_path)
        return False


def mint_token(
    secret: str,
    corp_id: str,
    subject: str,
    role: Role,
    now: datetime,
    dept_ids: Collection[str] = (),
    ttl: timedelta = timedelta(hours=12),
    extra_claims: Mapping[str, Any] | None = None,
) -> str:
    """A signed access token: sign-in issues them, the local ``token`` command mints development ones."""
    claims: dict[str, Any] = {
        **(extra_claims or {}),
        "corp_id": corp_id,
        "sub": subject,
        "role": role.value,
        "dept_ids": list(dept_ids),
        "typ": ACCESS_TOKEN_TYPE,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    import jwt

    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def authenticate(authorization: str | None, secret_for: Callable[[str], str | None]) -> Principal:
    """The principal of a ``Bearer`` header, or :class:`Unauthenticated` saying what is wrong."""
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthenticated("an Authorization: Bearer <token> header is required", field="Authorization")
    import jwt  # loaded by the first authenticated request, not at init (PyJWT brings cryptography)

    token = authorization.removeprefix("Bearer ").strip()
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise Unauthenticated("the bearer token is malformed", field="Authorization") from None
    corp_id = unverified.get("corp_id")
    secret = secret_for(corp_id) if isinstance(corp_id, str) else None
    if not secret:
        raise Unauthenticated("the token names no known tenant", field="Authorization")
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "role", "corp_id"]}
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the bearer token has expired", field="Authorization") from None
    except jwt.PyJWTError as error:
        raise Unauthenticated(f"the bearer token is not valid: {error}", field="Authorization") from None
    if claims.get("typ", ACCESS_TOKEN_TYPE) != ACCESS_TOKEN_TYPE:
        raise Unauthenticated("the bearer token is not an access token", field="Authorization")
    try:
        role = Role(claims["role"])
    except ValueError:
        raise Unauthenticated(f"unknown role {claims['role']!r}", field="Authorization") from None
    dept_ids = claims.get("dept_ids") or []
    if not isinstance(dept_ids, list) or not all(isinstance(dept, str | int) for dept in dept_ids):
        raise Unauthenticated("dept_ids must be a list of department ids", field="Authorization")
    return Principal(
        corp_id=claims["corp_id"],
        subject=str(claims["sub"]),
        role=role,
        dept_ids=tuple(str(dept) for dept in dept_ids),
        openid=claims["openid"] if isinstance(claims.get("openid"), str) and claims["openid"] else None,
    )


def require_role(principal: Principal, allowed: Collection[Role]) -> Principal:
    if principal.role not in allowed:
        raise Forbidden(f"role {principal.role.value} may not use this API")
    return principal
