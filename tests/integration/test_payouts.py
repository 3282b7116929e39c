"""The payout pipeline against moto and the payments sandbox over HTTP (SPEC §4.7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incentives.ledger import postings
from incentives.ledger.model import Account, Bucket, OwnerKind
from incentives.payouts.creation import PayoutRequest, create_payout
from incentives.payouts.model import Payee, Payout, PayoutStatus, ProviderName
from incentives.payouts.reconciler import reconcile
from incentives.runtime import wiring
from tests.conftest import StackHandle

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
GUIDE = Account("ww-local-corp", OwnerKind.GUIDE, "guide-zhangwei")


def _settled_balance(amount_fen: int, credit_id: str = "credit:reward-1") -> None:
    ledger = wiring.ledger_repository()
    ledger.credit(postings.credit(GUIDE, credit_id, amount_fen, NOW), hold_until=NOW)
    hold = ledger.hold(GUIDE, credit_id)
    assert hold is not None
    ledger.settle(hold, postings.settlement(hold, NOW), NOW)


def _payout(amount_fen: int = 20_000, source: str = "reward:r-1") -> Payout:
    _settled_balance(amount_fen, f"credit:{source}")
    request = PayoutRequest(
        source=source,
        payee=Payee(GUIDE, openid="oWeCom-guide-zhangwei", name="张伟", dept_path=("1", "2", "21")),
        amount_fen=amount_fen,
        provider=ProviderName.WECOM_PAY,
        description="导购激励 新客奖励",
    )
    return create_payout(wiring.payout_repository(), wiring.payout_queue(), request, NOW)


def _work(stack: StackHandle, times: int = 1, receive_count: int | None = None) -> None:
    for _ in range(times):
        stack.feed("PayoutWorkerFunction", "PayoutQueue", receive_count)


def _status(payout_id: str) -> Payout:
    payout = wiring.payout_repository().get("ww-local-corp", payout_id)
    assert payout is not None
    return payout


def test_a_payout_reserves_its_amount_and_is_queued(stack: StackHandle) -> None:
    payout = _payout(20_000)
    assert payout.status is PayoutStatus.QUEUED
    assert len(payout.payout_id) == 32 and payout.payout_id.isalnum()
    balance = wiring.ledger_repository().balance(GUIDE)
    assert balance[Bucket.SETTLED] == 0 and balance[Bucket.RESERVED] == 20_000


def test_the_same_cause_gives_the_same_payout_once(stack: StackHandle) -> None:
    first = _payout(20_000, "reward:r-9")
    again = create_payout(
        wiring.payout_repository(),
        wiring.payout_queue(),
        PayoutRequest("reward:r-9", first.payee, 20_000, ProviderName.WECOM_PAY, first.description),
        NOW,
    )
    assert again.payout_id == first.payout_id
    assert wiring.ledger_repository().balance(GUIDE)[Bucket.RESERVED] == 20_000


def test_a_payout_cannot_overdraw_the_withdrawable_balance(stack: StackHandle) -> None:
    from incentives.ledger.errors import InsufficientBalance

    _settled_balance(5_000)
    with pytest.raises(InsufficientBalance):
        create_payout(
            wiring.payout_repository(),
            wiring.payout_queue(),
            PayoutRequest("withdrawal:w-1", Payee(GUIDE, "oX"), 5_001, ProviderName.WECOM_PAY, "提现"),
            NOW,
        )


def test_a_clean_payout_is_paid_once(stack: StackHandle) -> None:
    payout = _payout()
    _work(stack)
    paid = _status(payout.payout_id)
    assert paid.status is PayoutStatus.PAID and paid.transaction_id
    [transfer] = stack.payments.transfers_made()
    assert transfer["number"] == payout.payout_id and transfer["amount_fen"] == 20_000
    balance = wiring.ledger_repository().balance(GUIDE)
    assert balance[Bucket.PAID] == 20_000 and balance[Bucket.RESERVED] == 0
    _work(stack)  # a late duplicate of the message changes nothing
    assert stack.payments.calls["pay"] == 1


@pytest.mark.parametrize(
    ("pay_faults", "attempts"),
    [
        (["timeout_before", "SYSTEMERROR"], 3),  # nothing moved twice: query, retry with the same number
        (["timeout", "SYSTEMERROR"], 1),  # the first call moved money: the query finds it
        (["SYSTEMERROR_AFTER"], 1),
        (["FREQ_LIMIT", "SYSTEMERROR"], 3),
    ],
)
def test_timeouts_and_systemerrors_move_money_exactly_once_under_one_number(
    stack: StackHandle, pay_faults: list[str], attempts: int
) -> None:
    payout = _payout()
    stack.payments.add_faults("pay", pay_faults)
    _work(stack, times=attempts)
    assert _status(payout.payout_id).status is PayoutStatus.PAID
    _work(stack, times=2)
    [transfer] = stack.payments.transfers_made()
    assert transfer["number"] == payout.payout_id
    assert {number for _, number in stack.payments.numbers_seen} == {payout.payout_id}
    assert wiring.ledger_repository().balance(GUIDE)[Bucket.PAID] == 20_000


def test_notenough_fails_with_its_reason_and_can_be_requeued(stack: StackHandle) -> None:
    payout = _payout()
    stack.payments.add_faults("pay", ["NOTENOUGH"])
    _work(stack)
    failed = _status(payout.payout_id)
    assert failed.status is PayoutStatus.FAILED
    assert failed.failure_code == "NOTENOUGH" and failed.failure_reason == "余额不足"
    assert wiring.ledger_repository().balance(GUIDE)[Bucket.RESERVED] == 20_000  # still owed, still earmarked
    from incentives.payouts.actions import requeue

    again = requeue(
        wiring.payout_repository(),
        wiring.payout_queue(),
        "ww-local-corp",
        payout.payout_id,
        NOW + timedelta(hours=1),
        "admin:ops",
    )
    assert again.status is PayoutStatus.QUEUED and again.generation == 2
    _work(stack)
    assert _status(payout.payout_id).status is PayoutStatus.PAID
    assert len(stack.payments.transfers_made()) == 1


def test_the_last_receive_marks_the_payout_failed_before_the_dlq(stack: StackHandle) -> None:
    payout = _payout()
    stack.payments.add_faults("pay", ["SYSTEMERROR"] * 5)
    _work(stack, receive_count=1)
    assert _status(payout.payout_id).status is PayoutStatus.SENDING
    _work(stack, receive_count=5)
    failed = _status(payout.payout_id)
    assert failed.status is PayoutStatus.FAILED and failed.failure_code == "RETRIES_EXHAUSTED"
    assert "SYSTEMERROR" in (failed.failure_reason or "")
    assert stack.payments.transfers_made() == []


def test_the_reconciler_requeues_a_payout_whose_message_was_lost(stack: StackHandle) -> None:
    payout = _payout()
    stack.drain("PayoutQueue")  # as if the process died before sending the message
    result = reconcile(
        wiring.payout_repository(),
        wiring.payout_providers,
        wiring.payout_queue(),
        datetime.now(UTC) + timedelta(minutes=30),
    )
    assert result.requeued == 1
    _work(stack)
    assert _status(payout.payout_id).status is PayoutStatus.PAID


def test_the_reconciler_resolves_a_payout_left_sending_after_money_moved(stack: StackHandle) -> None:
    payout = _payout()
    stack.payments.add_faults("pay", ["timeout"])
    stack.payments.add_faults("pay_query", ["SYSTEMERROR"])
    _work(stack)  # the call timed out, the query failed: unresolved
    assert _status(payout.payout_id).status is PayoutStatus.SENDING
    stack.drain("PayoutQueue")
    result = reconcile(
        wiring.payout_repository(),
        wiring.payout_providers,
        wiring.payout_queue(),
        datetime.now(UTC) + timedelta(minutes=30),
    )
    assert result.resolved == 1
    assert _status(payout.payout_id).status is PayoutStatus.PAID
    assert len(stack.payments.transfers_made()) == 1


def test_a_tenant_without_wecom_pay_gets_a_clear_failure(
    stack: StackHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    payout = _payout()
    monkeypatch.setattr(wiring, "wecom_pay_config", lambda corp_id: None)
    wiring.payout_providers.cache_clear()
    _work(stack)
    failed = _status(payout.payout_id)
    assert failed.status is PayoutStatus.FAILED and failed.failure_code == "PROVIDER_NOT_CONFIGURED"


def test_settlement_settles_credits_whose_hold_has_passed(stack: StackHandle) -> None:
    ledger = wiring.ledger_repository()
    ledger.credit(postings.credit(GUIDE, "credit:c-1", 3_000, NOW), hold_until=NOW + timedelta(days=7))
    ledger.credit(postings.credit(GUIDE, "credit:c-2", 2_000, NOW), hold_until=NOW + timedelta(days=1))
    fire = lambda at: stack.fire("LedgerSettlementFunction", at)  # noqa: E731
    assert fire(NOW + timedelta(hours=23))["settled"] == 0
    assert fire(NOW + timedelta(days=2))["settled"] == 1
    assert fire(NOW + timedelta(days=2))["settled"] == 0
    balance = ledger.balance(GUIDE)
    assert balance[Bucket.SETTLED] == 2_000 and balance[Bucket.PENDING] == 3_000
    assert balance.violations() == []


def test_an_offline_payout_is_recorded_at_once_and_moves_no_money(stack: StackHandle) -> None:
    _settled_balance(3_000, "credit:offline-1")
    payout = create_payout(
        wiring.payout_repository(),
        wiring.payout_queue(),
        PayoutRequest("reward:offline-1", Payee(GUIDE, "oX"), 3_000, ProviderName.OFFLINE, "线下发放"),
        NOW,
    )
    assert payout.status is PayoutStatus.RECORDED and payout.transaction_id == f"offline-{payout.payout_id}"
    assert stack.drain("PayoutQueue") == []
    balance = wiring.ledger_repository().balance(GUIDE)
    assert balance[Bucket.PAID] == 3_000 and balance[Bucket.RESERVED] == 0 and balance.violations() == []
    assert stack.payments.transfers_made() == []
