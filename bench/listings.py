"""Round trips per page of the listings (the consoles', an affiliate's and a guide's own), at
1,000 and 100,000 rows.

    python -m bench.listings [--small 1000] [--large 100000] [--page 50]

Fills the in-memory table (the Table port's MemoryTable, through the product's own writes: each
commission share with its decision, hold, credit and totals; withdrawals, half of them then
rejected; applications; affiliates; guide rewards granted with their payouts and totals) with
``--small`` rows of each listing, reads a first and a following page of each listing as the
handlers do, counting every table round trip, then grows the tenant to
``--large`` rows and reads them again. Prints both side by side and exits 1 if a page costs more
round trips in the large tenant than in the small one (a listing that reads the whole tenant).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "layers" / "incentives" / "python"))

CORP = "bench-listings"
START = datetime(2026, 1, 1, tzinfo=UTC)
BENEFICIARIES = 1_000
"""Affiliates the shares are spread over (their balances are separate items)."""
OWN = "A-OWN"
"""The affiliate of every tenth order and withdrawal: their own listings grow with the tenant."""


def _counting_table() -> Any:
    from incentives.storage.memory_table import MemoryTable

    class CountingTable(MemoryTable):
        """The in-memory table, counting round trips (a batch read is one) while ``counting``."""

        def __init__(self) -> None:
            super().__init__()
            self.round_trips = 0
            self.counting = False

        def _count(self) -> None:
            if self.counting:
                self.round_trips += 1

        def get(self, key: Any) -> Any:
            self._count()
            return super().get(key)

        def get_many(self, keys: Sequence[Any]) -> Any:
            self._count()  # one BatchGetItem (the in-memory table reads each key with get)
            counting, self.counting = self.counting, False
            try:
                return super().get_many(keys)
            finally:
                self.counting = counting

        def query(self, partition: str, **options: Any) -> Any:
            self._count()
            return super().query(partition, **options)

    return CountingTable()


def _commission(table: Any, n: int) -> None:
    """Order ``n`` paid and commissioned: the product's change, committed as ``order.paid`` does."""
    from incentives.affiliates.commission import Decision, LineShare, Role, Share, account, credit_id
    from incentives.affiliates.ports import CommissionDecided
    from incentives.ledger import postings
    from incentives.storage.affiliates import TableAffiliates
    from incentives.webhook.models import OrderLine, OrderPaid, OrderSource

    order_id, beneficiary = f"SO-{n:07d}", OWN if n % 10 == 0 else f"A{n % BENEFICIARIES:04d}"
    paid_at = START + timedelta(minutes=n)
    order = OrderPaid(
        order_id=order_id,
        customer_id=f"C{n:07d}",
        store_id="s1",
        paid_at=paid_at,
        source=OrderSource(scene="share"),
        is_group_buy=False,
        lines=[
            OrderLine(
                line_id="L1",
                product_id="p0",
                category_path=["服饰"],
                quantity=1,
                payable_fen=10_000,
                paid_fen=10_000,
                discount_fen=0,
                points_fen=0,
                balance_fen=0,
            )
        ],
    )
    share = Share(Role.COMMISSION, beneficiary, (LineShare("L1", "p0", 10_000, 1_000, 1_000),))
    credit = postings.credit(
        account(CORP, beneficiary), credit_id(order_id, "commission"), 1_000, paid_at, note="commission"
    )
    decision = Decision((share,), "bound", affiliate_id=beneficiary)
    change = CommissionDecided(
        order, decision, paid_at, paid_at.date().isoformat(), (credit,), None, None, None
    )
    TableAffiliates(table).commit(CORP, [change])


def _people(table: Any, n: int) -> None:
    """Affiliate ``n`` applied, joined and asked to withdraw (the product's changes)."""
    from incentives.affiliates.ports import (
        AffiliateJoined,
        ApplicationSubmitted,
        WithdrawalMoved,
        WithdrawalRequested,
    )
    from incentives.core.clock import iso_utc
    from incentives.storage.affiliates import TableAffiliates

    at = iso_utc(START + timedelta(seconds=n))
    who = f"P{n:07d}"
    application = {"customer_id": who, "status": "pending_review", "answers": {}, "submitted_at": at}
    profile = {"affiliate_id": who, "name": who, "status": "active", "joined_at": at, "upline_id": None}
    withdrawal = {
        "withdrawal_id": f"W{n:07d}",
        "affiliate_id": OWN if n % 10 == 0 else who,
        "amount_fen": 100,
        "status": "pending_review",
        "payout_id": f"PO{n:07d}",
        "requested_at": at,
        "history": [f"{at} requested"],
    }
    affiliates = TableAffiliates(table)
    affiliates.commit(CORP, [ApplicationSubmitted(application, None)])
    affiliates.commit(CORP, [AffiliateJoined(profile, None)])
    affiliates.commit(CORP, [WithdrawalRequested(withdrawal)])
    if n % 2 == 1:  # every other one refused: the listing of that status is half the tenant's
        affiliates.commit(CORP, [WithdrawalMoved(f"W{n:07d}", "pending_review", {"status": "rejected"})])


GUIDES = ("G-OWN", "G-OTHER")
"""Every other reward is the first guide's: their own listing grows with the tenant."""


class _Unsent:
    """The payout queue of the grants: offline payouts are recorded at once, nothing is sent."""

    def send(self, corp_id: str, payout_id: str, generation: int) -> None:
        raise AssertionError(f"an offline payout was queued: {payout_id}")


def _guide_program(table: Any) -> None:
    """Two guides of one outlet (21, in department 2) and a store-visit rule of 200 fen, paid
    offline (the default)."""
    from incentives.guides.programs import RuleInput, create_custom_rule
    from incentives.storage.guides import TableGuideRepository
    from incentives.storage.org import department_item, guide_item
    from incentives.storage.table import Put

    for dept_id, path in (("2", ["1", "2"]), ("21", ["1", "2", "21"])):
        department = {"dept_id": dept_id, "name": dept_id, "path": path, "is_outlet": dept_id == "21"}
        table.transact([Put(department_item(CORP, department))])
    for guide in GUIDES:
        profile = {"user_id": guide, "name": guide, "dept_path": ["1", "2"], "outlet_ids": ["21"]}
        table.transact([Put(guide_item(CORP, profile))])
    rule = RuleInput(name="到店打卡", behavior="store_visit", amount_fen=200)
    create_custom_rule(TableGuideRepository(table), CORP, rule, START - timedelta(hours=1))


def _reward(table: Any, n: int) -> None:
    """Store visit ``n`` rewarded as the processor grants it (one read, one transaction)."""
    from incentives.guides.grant import GuideEffects, grant
    from incentives.guides.triggers import trigger_for_behavior
    from incentives.storage.guides import TableGuideRepository
    from incentives.storage.payouts import PayoutRepository

    effects = GuideEffects(
        TableGuideRepository(table),
        PayoutRepository(table),
        _Unsent(),
        lambda corp, guide: "",
        "Asia/Shanghai",
    )
    at = START + timedelta(minutes=n)
    trigger = trigger_for_behavior(f"visit-{n}", "store_visit", f"C{n:07d}", GUIDES[n % 2], at)
    assert "payout" in grant(effects, CORP, trigger)


def listings(table: Any, page: int) -> dict[str, Callable[[str | None], str | None]]:
    from incentives.core.access import Principal, Role
    from incentives.guides.records import (
        RecordQuery,
        maintained_earnings,
        maintained_overview,
        records_page,
    )
    from incentives.storage.affiliates import center, membership, withdrawals
    from incentives.storage.affiliates.center import RecordFilter
    from incentives.storage.guides import TableGuideRepository
    from incentives.storage.payouts import PayoutRepository

    payouts = PayoutRepository(table)
    guides = TableGuideRepository(table)
    admin = Principal(CORP, "admin", Role.ADMIN)
    operator = Principal(CORP, "ops", Role.OPERATOR, dept_ids=("2",))

    def commissions(cursor: str | None) -> str | None:
        matching = RecordFilter()
        found, following = center.commission_page(table, CORP, matching, page, cursor)
        center.commission_totals(table, CORP, matching)
        assert len(found) == page, "the page should be full"
        return following

    def by_day(cursor: str | None) -> str | None:
        end = START + timedelta(days=1) - timedelta(milliseconds=1)
        matching = RecordFilter(since=START, until=end)  # the day's bounds are the key condition
        found, following = center.commission_page(table, CORP, matching, page, cursor)
        assert center.commission_totals(table, CORP, matching) is not None
        assert len(found) == page and all(r.paid_at.startswith("2026-01-01") for r in found)
        return following

    def withdrawal_page(cursor: str | None) -> str | None:
        found = withdrawals.listing_page(table, CORP, None, None, page, cursor)
        withdrawals.views(found.records, payouts, CORP, reviewer=True)
        assert len(found.records) == page
        return found.cursor

    def rejected(cursor: str | None) -> str | None:
        found = withdrawals.listing_page(table, CORP, None, "rejected", page, cursor)
        shown = withdrawals.views(found.records, payouts, CORP, reviewer=True)
        assert len(shown) == page and all(w["status"] == "rejected" for w in shown)
        return found.cursor

    def own_commissions(cursor: str | None) -> str | None:
        found, following = center.my_commission_page(table, CORP, OWN, RecordFilter(), page, cursor)
        assert len(found) == page and all(r.beneficiary_id == OWN for r in found)
        return following

    def own_withdrawals(cursor: str | None) -> str | None:
        found = withdrawals.listing_page(table, CORP, OWN, None, page, cursor)
        shown = withdrawals.views(found.records, payouts, CORP)
        assert len(shown) == page and all(w["affiliate_id"] == OWN for w in shown)
        return found.cursor

    def guide_records_of(reader: Principal) -> Callable[[str | None], str | None]:
        """The guide reward records and their overview, as ``reader`` sees them."""

        def listing(cursor: str | None) -> str | None:
            query = RecordQuery()
            found, following = records_page(guides, payouts, reader, query, page, cursor)
            summary = maintained_overview(guides, reader, query)
            assert len(found) == page and summary is not None and summary["records"] >= page
            return following

        return listing

    def month_earnings(cursor: str | None) -> str | None:
        now = START + timedelta(days=1)
        earned = maintained_earnings(guides, CORP, GUIDES[0], now, "Asia/Shanghai")
        assert earned.this_month_fen >= 200 * page // 2 and earned.total_fen >= earned.this_month_fen
        return cursor

    def own_rewards(cursor: str | None) -> str | None:
        query = RecordQuery(only_guide=GUIDES[0])
        found, following = records_page(
            guides, payouts, Principal(CORP, GUIDES[0], Role.GUIDE), query, page, cursor
        )
        assert len(found) == page and all(r.guide_id == GUIDES[0] for r in found)
        return following

    def applications(cursor: str | None) -> str | None:
        found, following = membership.applications_page(table, CORP, "pending_review", page, cursor)
        assert len(found) == page
        return following

    def affiliates(cursor: str | None) -> str | None:
        found, following = membership.affiliates_page(table, CORP, page, cursor)
        assert len(found) == page
        return following

    return {
        "commission records (+ totals)": commissions,
        "commission records, one day (+ totals)": by_day,
        "withdrawals": withdrawal_page,
        "withdrawals, rejected (status key)": rejected,
        "an affiliate's own commission records": own_commissions,
        "an affiliate's own withdrawals": own_withdrawals,
        "guide reward records (+ overview)": guide_records_of(admin),
        "guide records, an operator (+ overview)": guide_records_of(operator),
        "a guide's own reward records": own_rewards,
        "a guide's month earnings": month_earnings,
        "applications, pending": applications,
        "affiliates": affiliates,
    }


def measure(table: Any, page: int) -> dict[str, tuple[int, int]]:
    """Round trips of the first page and of the one after it, per listing."""
    found = {}
    for name, read in listings(table, page).items():
        table.counting, table.round_trips = True, 0
        cursor = read(None)
        first = table.round_trips
        table.round_trips = 0
        read(cursor)
        found[name] = (first, table.round_trips)
        table.counting = False
    return found


def fill(table: Any, start: int, stop: int) -> float:
    began = time.perf_counter()
    if start == 0:
        _guide_program(table)
    for n in range(start, stop):
        _commission(table, n)
        _people(table, n)
        _reward(table, n)
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=50)
    args = parser.parse_args(argv)
    table = _counting_table()
    fill(table, 0, args.small)
    small = measure(table, args.page)
    seconds = fill(table, args.small, args.large)
    large = measure(table, args.page)
    print(f"listing round trips per page of {args.page} (first page / next page), in-memory table")
    print(f"  tenant grown from {args.small:,} to {args.large:,} rows of each listing in {seconds:.0f} s")
    print(f"{'listing':<40}{args.small:>12,} rows{args.large:>12,} rows  verdict")
    same = True
    for name, (first, following) in small.items():
        grown = large[name]
        verdict = "ok" if grown == (first, following) else "GROWS WITH THE TENANT"
        same = same and grown == (first, following)
        print(f"{name:<40}{first:>8} / {following:<3}    {grown[0]:>8} / {grown[1]:<3}  {verdict}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
