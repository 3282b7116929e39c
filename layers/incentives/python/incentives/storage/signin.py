"""Sign-in in the single table: sessions, their refresh tokens and the console's staff list
(:class:`incentives.signin.ports.Sessions`, :class:`incentives.signin.ports.StaffList`).

A session is one item (``T#<corp>#SESSION#<id>``), each refresh token one more, kept under the
SHA-256 of the token (``T#<corp>#REFRESH#<hash>``); the staff list is a settings item.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from incentives.core.clock import iso_utc
from incentives.signin.ports import Record
from incentives.signin.sessions import (
    REFRESH_TOKEN_TTL,
    SESSION_LIFETIME,
    Identity,
    Refusal,
    SignInMethod,
    read_refresh_token,
)
from incentives.signin.staff import SignInStaff, staff_of
from incentives.storage import keys
from incentives.storage.org import collection
from incentives.storage.table import ConditionFailed, Equals, Item, NotExists, Put, Table, Update


def session_key(corp_id: str, session_id: str) -> dict[str, str]:
    return {"pk": f"{keys.tenant(corp_id)}#SESSION#{session_id}", "sk": "SESSION"}


def refresh_token_key(corp_id: str, token_hash: str) -> dict[str, str]:
    return {"pk": f"{keys.tenant(corp_id)}#REFRESH#{token_hash}", "sk": "REFRESH"}


def staff_key(corp_id: str) -> dict[str, str]:
    return {"pk": f"{keys.tenant(corp_id)}#SETTINGS#SIGN_IN_STAFF", "sk": "SETTINGS"}


def _identity_fields(identity: Identity) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "role": identity.role.value,
        "subject": identity.subject,
        "dept_ids": list(identity.dept_ids),
    }
    if identity.openid:
        fields["openid"] = identity.openid
    return fields


def _token_item(corp_id: str, token: str, session_id: str, now: datetime) -> Item:
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


class TableSessions:
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

    def find(self, corp_id: str, token_hash: str) -> tuple[Record | None, Record | None]:
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
    ) -> Refusal | None:
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
            return Refusal.REPLAYED if 0 in failed.failed else Refusal.ENDED
        return None

    def end(self, corp_id: str, session_id: str, now: datetime, reason: str) -> bool:
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


class TableStaffList:
    """The console's staff list, a settings item; guides and departments are the synced organization's."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def staff(self, corp_id: str) -> SignInStaff:
        return staff_of(self._table.get(staff_key(corp_id)))

    def staff_and_guide(self, corp_id: str, user_id: str) -> tuple[SignInStaff, bool]:
        staff_item, guide = self._table.get_many([staff_key(corp_id), keys.guide_key(corp_id, user_id)])
        return staff_of(staff_item), guide is not None

    def department_ids(self, corp_id: str) -> set[str]:
        return {str(item["dept_id"]) for item in collection(self._table, corp_id, "DEPTS")}

    def save_staff(self, corp_id: str, staff: SignInStaff, now: datetime) -> None:
        self._table.transact(
            [
                Put(
                    {
                        **staff_key(corp_id),
                        "kind": "settings",
                        "value": staff.model_dump(),
                        "updated_at": iso_utc(now),
                    }
                )
            ]
        )
