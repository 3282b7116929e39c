"""Ledger rules: entries move amounts between buckets; balances are their sums (SPEC §4.4, §5)."""

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incentives.ledger import postings
from incentives.ledger.errors import InsufficientBalance, Overdraft
from incentives.ledger.model import Account, Balance, Bucket, EntryKind, OwnerKind, fold
from incentives.storage.ledger import LedgerRepository
from incentives.storage.memory_table import MemoryTable

AT = datetime(2026, 11, 24, tzinfo=UTC)
ALICE = Account("ww-1", OwnerKind.AFFILIATE, "aff-1")


def test_a_credit_is_earned_and_pending() -> None:
    balance = fold([postings.credit(ALICE, "c1", 500, AT)])
    assert balance[Bucket.EARNED] == 500 and balance[Bucket.PENDING] == 500 and balance.withdrawable == 0


def test_the_seed_003_refund_example_leaves_400_pending_then_settles_then_claws_back() -> None:
    """10,000 fen at 5 % = 500; a 2,000-fen refund reverses 100; 400 settle; a later refund claws back 400."""
    ledger = LedgerRepository(MemoryTable())
    ledger.credit(postings.credit(ALICE, "c1", 500, AT), hold_until=AT)
    hold = ledger.hold(ALICE, "c1")
    assert hold is not None
    ledger.reverse(postings.reversal(hold, "r1", 100, AT))
    assert ledger.balance(ALICE)[Bucket.PENDING] == 400
    hold = ledger.hold(ALICE, "c1")
    assert hold is not None and hold.remaining_fen == 400
    ledger.settle(hold, postings.settlement(hold, AT), AT)
    assert ledger.balance(ALICE).withdrawable == 400
    ledger.post([postings.clawback(ALICE, "c1", "claw:r2", 400, AT)], AT)
    balance = ledger.balance(ALICE)
    assert balance.withdrawable == 0 and balance[Bucket.CLAWED_BACK] == 400
    assert balance.violations() == []


def test_an_entry_posted_twice_counts_once() -> None:
    ledger = LedgerRepository(MemoryTable())
    entry = postings.credit(ALICE, "c1", 500, AT)
    assert ledger.credit(entry, hold_until=AT) is True
    assert ledger.credit(entry, hold_until=AT) is False
    assert ledger.balance(ALICE)[Bucket.EARNED] == 500


def test_a_reversal_cannot_exceed_what_is_still_pending() -> None:
    ledger = LedgerRepository(MemoryTable())
    ledger.credit(postings.credit(ALICE, "c1", 500, AT), hold_until=AT)
    hold = ledger.hold(ALICE, "c1")
    assert hold is not None
    with pytest.raises(ValueError, match="exceeds"):
        postings.reversal(hold, "r1", 501, AT)


def test_a_reserve_cannot_overdraw_the_withdrawable_balance() -> None:
    ledger = LedgerRepository(MemoryTable())
    with pytest.raises(InsufficientBalance):
        ledger.post([postings.reserve(ALICE, "p1", 1, AT)], AT)
    assert ledger.balance(ALICE) == Balance({bucket: 0 for bucket in Bucket})


def _settled(ledger: LedgerRepository, amount: int) -> None:
    ledger.credit(postings.credit(ALICE, "c1", amount, AT), hold_until=AT)
    hold = ledger.hold(ALICE, "c1")
    assert hold is not None
    ledger.settle(hold, postings.settlement(hold, AT), AT)


def test_a_payout_becomes_paid_only_out_of_its_own_reserve() -> None:
    """Paying more than is reserved (a duplicated withdrawal, a second payout) is refused whole."""
    ledger = LedgerRepository(MemoryTable())
    _settled(ledger, 1_000)
    ledger.post([postings.reserve(ALICE, "p1", 1_000, AT)], AT)
    ledger.post([postings.payout(ALICE, "p1", 1_000, AT)], AT)
    before = ledger.balance(ALICE)
    with pytest.raises(Overdraft):
        ledger.post([postings.payout(ALICE, "p2", 1_000, AT)], AT)
    with pytest.raises(Overdraft):
        ledger.post([postings.release(ALICE, "p3", 1, AT)], AT)
    assert ledger.balance(ALICE) == before and before[Bucket.RESERVED] == 0


def test_no_posting_but_a_clawback_takes_a_bucket_below_zero() -> None:
    ledger = LedgerRepository(MemoryTable())
    _settled(ledger, 500)
    with pytest.raises(InsufficientBalance):
        ledger.post([postings.reserve(ALICE, "p1", 501, AT)], AT)
    ledger.post([postings.clawback(ALICE, "c1", "k1", 800, AT)], AT)
    assert ledger.balance(ALICE).withdrawable == -300


def test_a_clawback_may_take_withdrawable_below_zero_and_is_recorded() -> None:
    balance = fold([postings.clawback(ALICE, "c1", "k1", 300, AT)])
    assert balance.withdrawable == -300
    assert balance.violations() == []


def test_a_negative_withdrawable_without_clawback_is_a_violation() -> None:
    balance = Balance({Bucket.SETTLED: -1, Bucket.RESERVED: 1})
    assert any("settled" in problem for problem in balance.violations())


def test_amounts_are_positive_and_ids_have_no_separator() -> None:
    with pytest.raises(ValueError):
        postings.credit(ALICE, "c1", 0, AT)
    with pytest.raises(ValueError):
        postings.credit(ALICE, "c#1", 5, AT)


@st.composite
def ledger_histories(draw: st.DrawFn) -> list[tuple[str, int]]:
    return draw(
        st.lists(
            st.tuples(
                st.sampled_from(["credit", "reverse", "settle", "claw", "reserve", "pay", "release"]),
                st.integers(1, 5_000),
            ),
            max_size=40,
        )
    )


@settings(max_examples=150)
@given(ledger_histories())
def test_any_sequence_of_postings_keeps_every_invariant(history: list[tuple[str, int]]) -> None:
    ledger = LedgerRepository(MemoryTable())
    credits: list[str] = []
    reserved: list[tuple[str, int]] = []
    for step, (operation, amount) in enumerate(history):
        if operation == "credit":
            credits.append(f"c{step}")
            ledger.credit(postings.credit(ALICE, f"c{step}", amount, AT), hold_until=AT)
        elif operation in ("reverse", "settle") and credits:
            hold = ledger.hold(ALICE, credits[amount % len(credits)])
            if hold is None:
                continue
            if operation == "settle":
                ledger.settle(hold, postings.settlement(hold, AT), AT)
            elif hold.remaining_fen:
                ledger.reverse(postings.reversal(hold, f"r{step}", min(amount, hold.remaining_fen), AT))
        elif operation == "claw" and credits:
            ledger.post([postings.clawback(ALICE, credits[0], f"k{step}", amount, AT)], AT)
        elif operation == "reserve":
            try:
                ledger.post([postings.reserve(ALICE, f"p{step}", amount, AT)], AT)
                reserved.append((f"p{step}", amount))
            except InsufficientBalance:
                pass
        elif operation in ("pay", "release") and reserved:
            payout_id, reserved_amount = reserved.pop(0)
            make = postings.payout if operation == "pay" else postings.release
            ledger.post([make(ALICE, payout_id, reserved_amount, AT)], AT)
        balance = ledger.balance(ALICE)
        assert balance.violations() == []
        assert balance == fold(ledger.entries(ALICE))
    kinds = {entry.kind for entry in ledger.entries(ALICE)}
    assert kinds <= set(EntryKind)
