"""Payouts on the single table, written together with their ledger entries in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from incentives.affiliates.withdrawal_models import progress
from incentives.core.clock import iso_utc, parse_instant
from incentives.core.errors import ConcurrentModification
from incentives.fanout.model import DueQueue
from incentives.ledger.errors import InsufficientBalance
from incentives.ledger.model import Account, Entry, OwnerKind
from incentives.payouts.model import (
    OPEN_STATUSES,
    Confirmation,
    Payee,
    Payout,
    PayoutStatus,
    ProviderName,
)
from incentives.storage import keys
from incentives.storage.due import TableDueIndex, due_attributes
from incentives.storage.guide_totals import totals_writes
from incentives.storage.ledger import balance_refusal, posting_writes
from incentives.storage.sharded import merged_page
from incentives.storage.table import ConditionFailed, Equals, NotExists, Put, Table, Update, Write


def payout_key(corp_id: str, payout_id: str) -> dict[str, str]:
    return {"pk": f"{keys.tenant(corp_id)}#PAYOUT#{payout_id}", "sk": "PAYOUT"}


def payout_item(payout: Payout) -> dict[str, Any]:
    account = payout.payee.account
    item: dict[str, Any] = {
        **payout_key(payout.corp_id, payout.payout_id),
        "kind": "payout",
        "payout_id": payout.payout_id,
        "corp_id": payout.corp_id,
        "owner_kind": account.owner_kind.value,
        "owner_id": account.owner_id,
        "openid": payout.payee.openid,
        "payee_name": payout.payee.name,
        "dept_path": list(payout.payee.dept_path),
        "amount_fen": payout.amount_fen,
        "provider": payout.provider.value,
        "source": payout.source,
        "description": payout.description,
        "status": payout.status.value,
        "created_at": iso_utc(payout.created_at),
        "updated_at": iso_utc(payout.updated_at),
        "version": payout.version,
        "generation": payout.generation,
        "sends": payout.sends,
        "transaction_id": payout.transaction_id,
        "paid_at": iso_utc(payout.paid_at) if payout.paid_at else None,
        "failure_code": payout.failure_code,
        "failure_reason": payout.failure_reason,
        "history": list(payout.history),
        "gsi2pk": keys.listing_partition(
            keys.payouts_listing(payout.corp_id, payout.status.value), payout.payout_id
        ),
        "gsi2sk": f"{iso_utc(payout.created_at)}#{payout.payout_id}",
        "gsi3pk": keys.listing_partition(keys.payouts_listing(payout.corp_id), payout.payout_id),
        "gsi3sk": f"{iso_utc(payout.created_at)}#{payout.payout_id}",
        "confirm_by": iso_utc(payout.confirm_by) if payout.confirm_by else None,
        "check_at": iso_utc(payout.check_at) if payout.check_at else None,
    }
    if payout.source_facts is not None:
        item["source_facts"] = dict(payout.source_facts)
    if payout.confirmation is not None:
        item["confirm_mch_id"] = payout.confirmation.mch_id
        item["confirm_app_id"] = payout.confirmation.app_id
        item["package_info"] = payout.confirmation.package_info
    identity = f"{payout.corp_id}#{payout.payout_id}"
    if payout.status in OPEN_STATUSES or payout.unresolved:
        item.update(
            due_attributes(
                DueQueue.OPEN_PAYOUTS, identity, payout.updated_at, payout.corp_id, payout.payout_id
            )
        )
    elif payout.status is PayoutStatus.AWAITING_CONFIRMATION and payout.check_at is not None:
        item.update(
            due_attributes(
                DueQueue.WAITING_PAYOUTS, identity, payout.check_at, payout.corp_id, payout.payout_id
            )
        )
    return {key: value for key, value in item.items() if value is not None}


def payout_from_item(item: dict[str, Any]) -> Payout:
    return Payout(
        payout_id=item["payout_id"],
        payee=Payee(
            account=Account(item["corp_id"], OwnerKind(item["owner_kind"]), item["owner_id"]),
            openid=item["openid"],
            name=item.get("payee_name", ""),
            dept_path=tuple(item.get("dept_path", [])),
        ),
        amount_fen=int(item["amount_fen"]),
        provider=ProviderName(item["provider"]),
        source=item["source"],
        description=item["description"],
        status=PayoutStatus(item["status"]),
        created_at=parse_instant(item["created_at"]),
        updated_at=parse_instant(item["updated_at"]),
        version=int(item["version"]),
        generation=int(item["generation"]),
        sends=int(item["sends"]),
        transaction_id=item.get("transaction_id"),
        paid_at=parse_instant(item["paid_at"]) if item.get("paid_at") else None,
        failure_code=item.get("failure_code"),
        failure_reason=item.get("failure_reason"),
        history=tuple(item.get("history", [])),
        confirmation=(
            Confirmation(item["confirm_mch_id"], item["confirm_app_id"], item["package_info"])
            if item.get("package_info")
            else None
        ),
        confirm_by=parse_instant(item["confirm_by"]) if item.get("confirm_by") else None,
        check_at=parse_instant(item["check_at"]) if item.get("check_at") else None,
        source_facts=item.get("source_facts"),
    )


def _followers(table: Table, payout: Payout, entries: Sequence[Entry]) -> list[Write]:
    """The writes a transition makes to what follows the payout: a withdrawal paying through it
    is listed under the payout's progress (``keys.withdrawal_status_attributes``); a guide
    reward's move to paid (the transition that writes its payout entry, once) adds to the
    reward totals (``storage.guide_totals``)."""
    kind, _, source_id = payout.source.partition(":")
    corp_id = payout.corp_id
    if kind == "withdrawal" and source_id:
        shown = keys.withdrawal_status_attributes(corp_id, source_id, progress(payout))
        return [Update(keys.affiliate_withdrawal_key(corp_id, source_id), set=shown)]
    if kind == "reward" and source_id and payout.status is PayoutStatus.PAID and entries:
        reward = payout.source_facts or table.get(keys.guide_reward_key(corp_id, source_id))
        return [*totals_writes(corp_id, reward, paid=True)] if reward else []
    return []


class PayoutRepository:
    def __init__(self, table: Table) -> None:
        self._table = table

    @staticmethod
    def creation_write(payout: Payout) -> Put:
        """The write that stores a new payout (refused if it exists), for a transaction of its own
        (:meth:`create`) or of its cause (a reward granted, a withdrawal approved)."""
        return Put(payout_item(payout), (NotExists(),))

    def create(self, payout: Payout, entries: Sequence[Entry]) -> bool:
        """Store a new payout with its reserve (and, offline, payout) entries. False if it exists.

        Raises ``InsufficientBalance`` when the withdrawable balance cannot carry it.
        """
        writes = [self.creation_write(payout), *posting_writes(entries, payout.created_at)]
        try:
            self._table.transact(writes)
        except ConditionFailed as failure:
            if 0 in failure.failed:
                return False
            if any(position <= len(entries) for position in failure.failed):
                raise ConcurrentModification(
                    f"payout {payout.payout_id}: entries exist without it"
                ) from failure
            raise InsufficientBalance("the withdrawable balance is too small for this payout") from failure
        return True

    def save(self, payout: Payout, expected_version: int, entries: Sequence[Entry] = ()) -> None:
        """Store a transition (and its ledger entries) if nobody changed the payout meanwhile."""
        writes = [
            Put(payout_item(payout), (Equals("version", expected_version),)),
            *posting_writes(entries, payout.updated_at),
            *_followers(self._table, payout, entries),
        ]
        try:
            self._table.transact(writes)
        except ConditionFailed as failure:
            refusal = balance_refusal(writes, failure.failed)
            if refusal is not None:  # the payout held: the ledger refused
                raise refusal from failure
            raise ConcurrentModification(f"payout {payout.payout_id} changed meanwhile") from failure

    def get(self, corp_id: str, payout_id: str) -> Payout | None:
        item = self._table.get(payout_key(corp_id, payout_id))
        return payout_from_item(item) if item else None

    def page(
        self,
        corp_id: str,
        status: PayoutStatus | None,
        limit: int,
        cursor: str | None,
        keep: Callable[[Payout], bool] = lambda _: True,
    ) -> tuple[list[Payout], str | None]:
        """Newest first, optionally one status, only those ``keep`` accepts (a caller's scope), in
        full pages (see ``storage.sharded.merged_page``); ``cursor`` continues a previous page."""
        listing = keys.payouts_listing(corp_id, status.value if status else None)
        page = merged_page(
            self._table,
            keys.listing_partitions(listing),
            index="gsi3" if status is None else "gsi2",
            limit=limit,
            cursor=cursor,
            newest_first=True,
            keep=lambda item: keep(payout_from_item(item)),
        )
        return [payout_from_item(item) for item in page.items], page.cursor

    def get_many(self, keys: Sequence[tuple[str, str]]) -> list[Payout]:
        """The payouts of ``(corp_id, payout_id)`` pairs that exist, read together (consistent)."""
        items = self._table.get_many([payout_key(corp_id, payout_id) for corp_id, payout_id in keys])
        return [payout_from_item(item) for item in items if item is not None]

    @staticmethod
    def due_payout(entry: dict[str, Any]) -> tuple[str, str]:
        """``(corp_id, payout_id)`` of a due entry of either reconciler queue."""
        return str(entry["corp_id"]), str(entry["payout_id"])

    def open_since(self, before: datetime) -> list[Payout]:
        """Open or unresolved payouts (all tenants, no cap) not touched since ``before``, read
        afresh (batched) since the reconciler acts on their current state."""
        due = [
            self.due_payout(entry) for entry in TableDueIndex(self._table).due(DueQueue.OPEN_PAYOUTS, before)
        ]
        return [payout for payout in self.get_many(due) if payout.reconcilable(before)]

    def awaiting_due(self, now: datetime) -> list[Payout]:
        """Payouts waiting for their payee (all tenants, no cap) whose next check is due by ``now``."""
        due = [
            self.due_payout(entry) for entry in TableDueIndex(self._table).due(DueQueue.WAITING_PAYOUTS, now)
        ]
        return [payout for payout in self.get_many(due) if payout.check_due(now)]
