"""The subsidy case over its repository (in-memory table): provisional attribution, late signals,
settlement posted to the subsidy book once, clawback, exactly once under repeats and reordering."""

from __future__ import annotations

from datetime import datetime, timedelta

from incentives.ledger.model import Book, SubsidyBucket, SubsidyEntryKind, fold_subsidy
from incentives.messages.internal import AfterSalesWindowClosed
from incentives.orders.aggregate import AfterSalesWindow, OrderState, apply_fact
from incentives.storage.memory_table import MemoryTable
from incentives.storage.subsidy import TableSubsidyRepository
from incentives.subsidy import service
from incentives.subsidy.computation import campaign_account
from incentives.webhook.models import (
    OrderCompleted,
    OrderFlagged,
    OrderPaid,
    OrderRefunded,
    OrderSourceUpdated,
    RefundLine,
    SceneSignal,
    SourceSignals,
)
from tests.support.subsidy import JULY_2, TZ, seed_campaign, seed_terms, signal, store_order

CORP = "ww-corp"
WINDOW = AfterSalesWindow(days=7)


def _ports() -> tuple[service.SubsidyPorts, TableSubsidyRepository]:
    repository = TableSubsidyRepository(MemoryTable(), TZ)
    campaign = seed_campaign()
    repository.create_campaign(CORP, campaign.campaign_id, seed_terms(), JULY_2, "admin")
    return service.SubsidyPorts(repository, TZ), repository


def _closed(order: OrderPaid, refund_fen: int = 0) -> OrderState:
    state = apply_fact(OrderState(CORP, order.order_id), "paid", order, WINDOW)
    if refund_fen:
        refund = OrderRefunded(
            order_id=order.order_id,
            refund_id="R1",
            refunded_at=JULY_2 + timedelta(hours=1),
            lines=[RefundLine(line_id="L1", refund_fen=refund_fen)],
        )
        state = apply_fact(state, "refund", refund, WINDOW)
    done = OrderCompleted(order_id=order.order_id, completed_at=JULY_2 + timedelta(days=2))
    state = apply_fact(state, "done", done, WINDOW)
    closed = AfterSalesWindowClosed(order_id=order.order_id, closed_at=JULY_2 + timedelta(days=9, hours=1))
    return apply_fact(state, "closed", closed, WINDOW)


def _update(
    order_id: str, at: datetime, *signals: SceneSignal, reason: str = "share data parsed"
) -> OrderSourceUpdated:
    return OrderSourceUpdated(
        order_id=order_id, updated_at=at, source=SourceSignals(signals=list(signals)), reason=reason
    )


def _flag(order_id: str) -> OrderFlagged:
    return OrderFlagged(
        order_id=order_id, flagged_at=JULY_2 + timedelta(days=20), flagged_by="platform", reason="刷单"
    )


def test_a_paid_store_order_is_attributed_provisionally_and_nothing_is_posted() -> None:
    ports, repository = _ports()
    order = store_order("O1", signal("official_account"))
    service.on_payment(ports, CORP, "paid", order)
    expectation = repository.expectation(CORP, "O1")
    assert expectation is not None
    assert (expectation.state, expectation.scene, expectation.in_plan) == (
        "provisional",
        "official_account",
        True,
    )
    assert repository.campaigns(CORP)[0].campaign_id == "c-2026-07"
    assert fold_subsidy([]) == fold_subsidy(repository._ledger.entries(campaign_account(CORP, "c-2026-07")))


def test_an_order_of_another_channel_gets_no_case() -> None:
    ports, repository = _ports()
    service.on_payment(ports, CORP, "paid", store_order("O1", signal("wecom_share"), channel=None))
    assert repository.case(CORP, "O1") is None


def test_late_signals_re_attribute_a_provisional_order_and_the_change_is_recorded_with_its_reason() -> None:
    ports, repository = _ports()
    order = store_order("O1", signal("official_account"))
    service.on_payment(ports, CORP, "paid", order)
    later = _update("O1", JULY_2 + timedelta(hours=3), signal("official_account"), signal("wecom_share"))
    service.on_source_updated(ports, CORP, "upd-1", later)
    case = repository.case(CORP, "O1")
    assert case is not None and case.attribution is not None
    assert case.attribution.scene == "wecom_share"
    assert [(c.before, c.after, c.reason) for c in case.changes] == [
        ("unattributed", "official_account", "payment"),
        ("official_account", "wecom_share", "share data parsed"),
    ]


def test_source_reports_arriving_in_any_order_give_the_same_attribution() -> None:
    order = store_order("O1", signal("official_account"))
    later = _update("O1", JULY_2 + timedelta(hours=3), signal("wecom_share"))
    first_ports, first = _ports()
    service.on_payment(first_ports, CORP, "paid", order)
    service.on_source_updated(first_ports, CORP, "upd-1", later)
    second_ports, second = _ports()
    service.on_source_updated(second_ports, CORP, "upd-1", later)
    service.on_payment(second_ports, CORP, "paid", order)
    one, other = first.expectation(CORP, "O1"), second.expectation(CORP, "O1")
    assert one is not None and other is not None
    assert (one.scene, one.in_plan) == (other.scene, other.in_plan) == ("wecom_share", True)


def test_the_window_closing_posts_the_subsidy_on_the_settled_amount_exactly_once() -> None:
    ports, repository = _ports()
    order = store_order("O1", signal("wecom_share"), paid_fen=10_000)
    state = _closed(order, refund_fen=2_500)
    service.on_payment(ports, CORP, "paid", state.paid)  # type: ignore[arg-type]
    for _ in range(3):
        service.on_window_closed(ports, CORP, "closed", state)
    service.on_window_closed(ports, CORP, "closed-again-with-another-id", state)
    entries = repository._ledger.entries(campaign_account(CORP, "c-2026-07"))
    assert {(e.entry_id, e.kind, e.amount_fen) for e in entries} == {
        ("subsidy-fee:O1", SubsidyEntryKind.FEE_SAVING, 300),
        ("subsidy-card:O1", SubsidyEntryKind.GROWTH_CARD, 30),
    }
    assert all(e.account.book is Book.SUBSIDY for e in entries)
    balance = repository._ledger.subsidy_balance(campaign_account(CORP, "c-2026-07"))
    assert balance == fold_subsidy(entries)
    expectation = repository.expectation(CORP, "O1")
    assert expectation is not None
    assert (expectation.state, expectation.settled_fen, expectation.expected_fee_fen) == ("final", 7_500, 75)


def test_late_signals_after_settlement_are_kept_but_change_nothing() -> None:
    ports, repository = _ports()
    state = _closed(store_order("O1", signal("wecom_share")))
    service.on_payment(ports, CORP, "paid", state.paid)  # type: ignore[arg-type]
    service.on_window_closed(ports, CORP, "closed", state)
    service.on_source_updated(
        ports, CORP, "upd", _update("O1", JULY_2 + timedelta(days=12), signal("promoter"))
    )
    case = repository.case(CORP, "O1")
    assert case is not None and case.attribution is not None
    assert case.attribution.scene == "wecom_share" and len(case.reports) == 2


def test_a_flagged_order_is_clawed_back_by_entries_referencing_the_originals_once() -> None:
    ports, repository = _ports()
    state = _closed(store_order("O1", signal("wecom_share")))
    service.on_payment(ports, CORP, "paid", state.paid)  # type: ignore[arg-type]
    service.on_window_closed(ports, CORP, "closed", state)
    service.on_flagged(ports, CORP, "flag", _flag("O1"))
    service.on_flagged(ports, CORP, "flag", _flag("O1"))
    service.on_flagged(ports, CORP, "flag-from-the-merchant-too", _flag("O1"))
    entries = repository._ledger.entries(campaign_account(CORP, "c-2026-07"))
    clawbacks = [e for e in entries if e.kind.value.endswith("clawback")]
    originals = {e.entry_id: e for e in entries if e not in clawbacks}
    assert len(clawbacks) == 2
    assert all(originals[c.ref].amount_fen == c.amount_fen for c in clawbacks)
    balance = fold_subsidy(entries)
    assert balance[SubsidyBucket.FEE_SAVED] == balance[SubsidyBucket.FEE_SAVED_CLAWED_BACK] == 400
    assert not balance.violations()
    expectation = repository.expectation(CORP, "O1")
    assert expectation is not None and expectation.state == "clawed_back"


def test_an_order_flagged_before_it_settles_never_gets_a_subsidy() -> None:
    ports, repository = _ports()
    state = _closed(store_order("O1", signal("wecom_share")))
    service.on_flagged(ports, CORP, "flag", _flag("O1"))
    service.on_payment(ports, CORP, "paid", state.paid)  # type: ignore[arg-type]
    service.on_window_closed(ports, CORP, "closed", state)
    assert repository._ledger.entries(campaign_account(CORP, "c-2026-07")) == []
    expectation = repository.expectation(CORP, "O1")
    assert expectation is not None and expectation.state == "clawed_back"


def test_the_days_expectations_list_every_case_paid_that_day() -> None:
    ports, repository = _ports()
    for order_id in ("O1", "O2"):
        service.on_payment(ports, CORP, "paid", store_order(order_id, signal("mini_program")))
    later = store_order("O3", signal("mini_program"), paid_at=JULY_2 + timedelta(days=1))
    service.on_payment(ports, CORP, "paid", later)
    found = sorted(e.order_id for e in repository.expectations_for_day(CORP, JULY_2.date()))
    assert found == ["O1", "O2"]


def test_the_expectation_port_gives_the_contracts_figures_in_ppm() -> None:
    ports, repository = _ports()
    state = _closed(store_order("O1", signal("wecom_share"), paid_fen=10_000), refund_fen=2_500)
    service.on_payment(ports, CORP, "paid", state.paid)  # type: ignore[arg-type]
    service.on_window_closed(ports, CORP, "closed", state)
    expectation = repository.expectation(CORP, "O1")
    assert expectation is not None
    assert (expectation.campaign_id, expectation.scene, expectation.in_plan) == (
        "c-2026-07",
        "wecom_share",
        True,
    )
    assert (expectation.standard_rate_ppm, expectation.expected_rate_ppm) == (50_000, 10_000)
    assert (expectation.expected_fee_fen, expectation.fee_saving_fen, expectation.growth_card_fen) == (
        75,
        300,
        30,
    )
    assert expectation.card_recipient == "finder-admin" and expectation.state == "final"
    assert any("winner by priority: wecom_share" in line for line in expectation.evidence)
    assert repository.expectation(CORP, "no-such-order") is None


def test_a_subsidy_entry_cannot_be_posted_to_a_persons_account() -> None:
    import pytest

    from incentives.ledger.model import Account, Entry, OwnerKind

    person = Account(CORP, OwnerKind.GUIDE, "zhangwei")
    with pytest.raises(ValueError, match="not of the people book"):
        Entry("subsidy-fee:O1", person, SubsidyEntryKind.FEE_SAVING, 100, JULY_2, ref="O1")


def test_the_subsidy_book_lives_apart_from_peoples_accounts_whose_items_are_unchanged() -> None:
    from incentives.ledger.model import Account, EntryKind, OwnerKind
    from incentives.ledger.postings import credit
    from incentives.storage.ledger import account_pk, entry_item

    person = Account(CORP, OwnerKind.AFFILIATE, "aff-1")
    assert account_pk(person) == f"T#{CORP}#ACCT#affiliate#aff-1"
    assert account_pk(campaign_account(CORP, "c1")) == f"T#{CORP}#BOOK#subsidy#ACCT#campaign#c1"
    item = entry_item(credit(person, "aff:O1", 100, JULY_2))
    assert "book" not in item and item["entry_kind"] == EntryKind.CREDIT.value
