"""Withdrawals against an atomic table: real threads racing for the same balance (SPEC §4.4)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from incentives.affiliates.program import ProgramSettings
from incentives.core.errors import DomainError
from incentives.ledger import postings
from incentives.ledger.model import Balance, Bucket
from incentives.storage.affiliates import store, withdrawals
from incentives.storage.affiliates.membership import ApplicationInput, submit_application
from incentives.storage.affiliates.store import account
from incentives.storage.affiliates.withdrawals import WithdrawalInput
from incentives.storage.ledger import LedgerRepository
from incentives.storage.memory_table import MemoryTable

CORP, NOW = "ww-unit", datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def _affiliate_with(settled_fen: int) -> tuple[MemoryTable, LedgerRepository]:
    table = MemoryTable()
    ledger = LedgerRepository(table)
    settings = {
        "promotion_enabled": True,
        "invitation_image_url": "https://img.example.com/invite.png",
        "application": {"review": "auto"},
        "withdrawal_threshold_fen": 100,
    }
    store.save_settings(table, CORP, ProgramSettings.model_validate(settings), NOW)
    submit_application(table, CORP, "A", ApplicationInput(openid="openid-A"), NOW)
    credit = postings.credit(account(CORP, "A"), "aff:O1:commission", settled_fen, NOW)
    settled = postings.settlement(postings.Hold(credit.account, credit.entry_id, settled_fen, NOW), NOW)
    assert settled is not None
    ledger.post([credit, settled], NOW)
    return table, ledger


class _BothReadFirst(LedgerRepository):
    """Every request reads the balance before any of them reserves: the worst interleaving."""

    def __init__(self, table: MemoryTable, parties: int) -> None:
        super().__init__(table)
        self._barrier = threading.Barrier(parties, timeout=10)

    def balance(self, owner: object) -> Balance:  # type: ignore[override]
        found = super().balance(owner)  # type: ignore[arg-type]
        self._barrier.wait()
        return found


def test_racing_requests_for_the_whole_balance_reserve_it_exactly_once() -> None:
    table, _ = _affiliate_with(1_000)
    racing = _BothReadFirst(table, parties=4)
    outcomes: list[str] = []

    def ask(request_id: str) -> None:
        try:
            withdrawals.request(
                table, racing, CORP, "A", WithdrawalInput(amount_fen=1_000, request_id=request_id), NOW
            )
            outcomes.append("reserved")
        except DomainError as refused:
            outcomes.append(refused.code)

    threads = [threading.Thread(target=ask, args=(f"r{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["insufficient_balance"] * 3 + ["reserved"]
    after = LedgerRepository(table).balance(account(CORP, "A"))
    assert after[Bucket.SETTLED] == 0 and after[Bucket.RESERVED] == 1_000 and after.violations() == []


def test_the_same_request_sent_twice_at_once_is_one_withdrawal() -> None:
    table, _ = _affiliate_with(1_000)
    racing = _BothReadFirst(table, parties=2)
    found: list[str] = []

    def ask() -> None:
        item = withdrawals.request(
            table, racing, CORP, "A", WithdrawalInput(amount_fen=400, request_id="same"), NOW
        )
        found.append(item["withdrawal_id"])

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 2 and found[0] == found[1]
    assert LedgerRepository(table).balance(account(CORP, "A"))[Bucket.RESERVED] == 400
