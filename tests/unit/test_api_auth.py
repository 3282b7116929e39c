"""Bearer tokens and data scopes (SPEC §3.3, §5 authorization)."""

from datetime import UTC, datetime, timedelta

import pytest

from incentives.core.access import Principal, Role, authenticate, mint_token, require_role
from incentives.core.errors import Forbidden, Unauthenticated

NOW = datetime.now(UTC)
SECRETS = {"ww-1": "a-32-byte-or-longer-secret-for-ww-1!", "ww-2": "another-32-byte-secret-for-tenant-2"}


def _auth(token: str) -> Principal:
    return authenticate(f"Bearer {token}", SECRETS.get)


def test_a_minted_token_authenticates_with_its_claims() -> None:
    token = mint_token(SECRETS["ww-1"], "ww-1", "ops-li", Role.OPERATOR, NOW, dept_ids=["2", 3])  # type: ignore[list-item]
    assert _auth(token) == Principal("ww-1", "ops-li", Role.OPERATOR, ("2", "3"))


def test_a_token_signed_with_another_tenants_key_is_refused() -> None:
    forged = mint_token(SECRETS["ww-2"], "ww-1", "ops", Role.ADMIN, NOW)
    with pytest.raises(Unauthenticated):
        _auth(forged)


def test_an_expired_token_is_refused_saying_so() -> None:
    token = mint_token(
        SECRETS["ww-1"], "ww-1", "ops", Role.ADMIN, NOW - timedelta(hours=2), ttl=timedelta(hours=1)
    )
    with pytest.raises(Unauthenticated, match="expired"):
        _auth(token)


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer x.y.z"])
def test_a_missing_or_malformed_header_is_refused(header: str | None) -> None:
    with pytest.raises(Unauthenticated):
        authenticate(header, SECRETS.get)


def test_roles_are_checked() -> None:
    guide = Principal("ww-1", "g1", Role.GUIDE)
    with pytest.raises(Forbidden):
        require_role(guide, (Role.ADMIN, Role.OPERATOR))


def test_an_operator_sees_their_departments_and_every_subdepartment() -> None:
    operator = Principal("ww-1", "ops", Role.OPERATOR, ("2",))
    assert operator.sees_department_path(("1", "2"))
    assert operator.sees_department_path(("1", "2", "21", "211"))
    assert not operator.sees_department_path(("1", "3", "31"))
    assert not operator.sees_department_path(("1",))
    assert not operator.sees_department_path(())


def test_an_admin_sees_the_whole_tenant_and_a_guide_nothing_here() -> None:
    assert Principal("ww-1", "a", Role.ADMIN).sees_department_path(())
    assert not Principal("ww-1", "g", Role.GUIDE).sees_department_path(("1", "2"))
