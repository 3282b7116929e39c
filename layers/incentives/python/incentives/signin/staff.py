"""Who signs in to the console: the tenant's list of admins and operators (WeCom userids).

WeCom does not say who runs the merchant's console, so an admin names them here: admins see
the whole tenant; each operator gets departments, their data scope (they see those departments
and every sub-department, SPEC §4.2). A WeCom member listed nowhere signs in as a guide when
the organization sync knows them as one (a member of an outlet), and is refused otherwise. The
first admin is named with a token minted from the tenant's ``api_jwt_secret`` (README, "Sign-in").
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from incentives.core.access import Role
from incentives.core.errors import Forbidden, InvalidInput
from incentives.signin.sessions import Identity

USER_ID = r"^[A-Za-z0-9_.@\-]{1,64}$"
"""A WeCom userid: letters, digits and ``_ . @ -``, at most 64 characters."""

UserId = Annotated[str, Field(pattern=USER_ID)]
DeptId = Annotated[str, Field(min_length=1, max_length=32)]


class OperatorGrant(BaseModel):
    user_id: UserId = Field(description="The operator's WeCom userid")
    dept_ids: list[DeptId] = Field(
        min_length=1,
        max_length=50,
        description="Departments the operator sees, with every sub-department (their data scope)",
    )


class SignInStaff(BaseModel):
    """The console's admins and operators (WeCom members who sign in with WeCom)."""

    admins: list[UserId] = Field(
        default_factory=list, max_length=200, description="WeCom userids who sign in as admin"
    )
    operators: list[OperatorGrant] = Field(
        default_factory=list, max_length=2000, description="WeCom userids who sign in as operator"
    )

    def operator(self, user_id: str) -> OperatorGrant | None:
        return next((grant for grant in self.operators if grant.user_id == user_id), None)


def staff_of(item: dict[str, Any] | None) -> SignInStaff:
    """The list kept in the settings item (an empty list before an admin saved one)."""
    return SignInStaff.model_validate(item["value"]) if item else SignInStaff()


def check_staff(staff: SignInStaff, known_departments: set[str]) -> None:
    """Each userid once; operators' departments are departments of the synced organization."""
    for position, user_id in enumerate(staff.admins):
        if user_id in staff.admins[:position]:
            raise InvalidInput(f"{user_id} is listed twice", field=f"admins.{position}")
    for position, grant in enumerate(staff.operators):
        field = f"operators.{position}"
        if grant.user_id in staff.admins:
            raise InvalidInput(f"{grant.user_id} is listed as admin and operator", field=f"{field}.user_id")
        if any(other.user_id == grant.user_id for other in staff.operators[:position]):
            raise InvalidInput(f"{grant.user_id} is listed twice", field=f"{field}.user_id")
        unknown = sorted(set(grant.dept_ids) - known_departments)
        if unknown:
            raise InvalidInput(
                f"not departments of the organization: {unknown}; sync first", field=f"{field}.dept_ids"
            )


ROLE_ORDER = (Role.ADMIN, Role.OPERATOR, Role.GUIDE)
"""A member who holds several roles gets the first of these unless they ask for another."""


def member_identity(user_id: str, staff: SignInStaff, is_guide: bool, wanted: Role | None) -> Identity:
    """The role a WeCom member signs in with: ``wanted`` if they hold it, else their first in
    :data:`ROLE_ORDER`; :class:`Forbidden` when they hold none (or not the one wanted)."""
    held: dict[Role, Identity] = {}
    if user_id in staff.admins:
        held[Role.ADMIN] = Identity(Role.ADMIN, user_id)
    grant = staff.operator(user_id)
    if grant is not None:
        held[Role.OPERATOR] = Identity(Role.OPERATOR, user_id, tuple(grant.dept_ids))
    if is_guide:
        held[Role.GUIDE] = Identity(Role.GUIDE, user_id)
    if wanted is not None:
        if wanted not in held:
            raise Forbidden(f"member {user_id} may not sign in as {wanted.value}", field="role")
        return held[wanted]
    for role in ROLE_ORDER:
        if role in held:
            return held[role]
    raise Forbidden(
        f"member {user_id} is neither a guide (a member of an outlet) nor an admin or operator of the console"
    )
