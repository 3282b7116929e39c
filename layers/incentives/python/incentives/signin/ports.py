"""What sign-in needs of storage: sessions with their refresh tokens, and the console's staff list.

``incentives.storage.signin`` implements both on the single table; it alone builds their keys,
items and writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from incentives.signin.sessions import Identity, Refusal, SignInMethod
    from incentives.signin.staff import SignInStaff

Record = dict[str, Any]


class Sessions(Protocol):
    """Sign-in sessions and their single-use refresh tokens (stored by the token's SHA-256)."""

    def open(
        self,
        corp_id: str,
        session_id: str,
        method: SignInMethod,
        identity: Identity,
        refresh_token: str,
        now: datetime,
    ) -> None:
        """Store a new session with its first refresh token (both new, or nothing)."""

    def find(self, corp_id: str, token_hash: str) -> tuple[Record | None, Record | None]:
        """The stored refresh token and its session (None where missing)."""

    def rotate(
        self,
        corp_id: str,
        token_hash: str,
        session_id: str,
        identity: Identity,
        next_token: str,
        now: datetime,
    ) -> Refusal | None:
        """Use the token, store its successor and refresh the session, all or nothing; the refusal
        when a race was lost: ``REPLAYED`` when the token was used meanwhile, else ``ENDED``."""

    def end(self, corp_id: str, session_id: str, now: datetime, reason: str) -> bool:
        """End an active session; False when it had ended already."""


class StaffList(Protocol):
    """The tenant's admins and operators, and what checking a member against them reads."""

    def staff(self, corp_id: str) -> SignInStaff:
        """The saved list (an empty one before an admin saved one)."""

    def staff_and_guide(self, corp_id: str, user_id: str) -> tuple[SignInStaff, bool]:
        """The list and whether the synced organization knows ``user_id`` as a guide (one read)."""

    def department_ids(self, corp_id: str) -> set[str]:
        """The ids of the synced organization's departments."""

    def save_staff(self, corp_id: str, staff: SignInStaff, now: datetime) -> None:
        """Replace the list."""
