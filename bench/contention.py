"""Hot affiliates at a brand's peak: ``order.paid`` through the event processor's real consumers on the
in-memory table with DynamoDB's transaction conflicts, on simulated time.

    python -m bench.contention [--seconds 10] [--hold-ms 12] [--read-ms 3]

Two loads, each order handled as it arrives (one Lambda invocation per message): 100 orders/s on one
affiliate (and so on their upline), and 1,000/s across a tenant (that affiliate among 90 others under
9 more uplines, 100/s on each upline). Arrivals are Poisson with a fixed seed. Every write call holds
its items for ``--hold-ms`` of simulated time (a transaction in flight), a read takes ``--read-ms``.
Prints the conflicts, the retries (the production retry policy, pauses on simulated time), what
exhausted its attempts (it would wait out the visibility timeout, then reach the DLQ: budget 0), and
whether every affiliate's money is exact: the commissions credited against an independent
computation from the orders, each balance against its entries. Exits 1 if a figure is over budget.

Why a 12 ms hold by default: DynamoDB publishes single-digit-millisecond latency for single-item
writes, and documents that a transaction makes two underlying writes of every item (prepare, then
commit: hence two write capacity units per item), so a transaction holds its items for about two
such writes, ≈ 10–12 ms; decision 137 estimated ≈ 12 ms from the 39 % conflicts measured at 20
orders/s. The budgeted loads run at the upper end of that; the last lines show longer holds
(informational), up to where attempts start to run out.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "layers" / "incentives" / "python"))

from incentives.affiliates.program import ProgramSettings  # noqa: E402
from incentives.core.clock import FixedClock  # noqa: E402
from incentives.core.retry import RetryPolicy  # noqa: E402
from incentives.events.consumers import EventPorts, build_consumers  # noqa: E402
from incentives.events.dispatch import apply_queued_event  # noqa: E402
from incentives.ledger.model import Bucket, fold  # noqa: E402
from incentives.messages.queued import QueuedEvent  # noqa: E402
from incentives.orders.aggregate import AfterSalesWindow  # noqa: E402
from incentives.storage.affiliates import store  # noqa: E402
from incentives.storage.affiliates.membership import ApplicationInput, submit_application  # noqa: E402
from incentives.storage.contention import Contention, SimulatedTime  # noqa: E402
from incentives.storage.ledger import BALANCE_SHARDS, LedgerRepository  # noqa: E402
from incentives.storage.level_items import STANDING_SHARDS  # noqa: E402
from incentives.storage.memory_table import MemoryTable  # noqa: E402
from incentives.storage.orders import TableOrderRepository  # noqa: E402
from incentives.storage.payouts import PayoutRepository  # noqa: E402
from incentives.storage.table import TransactionConflicted  # noqa: E402

CORP = "ww-bench"
TZ = "Asia/Shanghai"
T0 = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)
"""The peak's start: a fixed instant (nothing depends on today's date)."""
COMMISSION_BP, INVITE_BP = 1000, 500
HOT = "aff-hot"
HOLD_MS = 12.0
"""A realistic DynamoDB transaction's hold on its items (see the module docstring)."""
SENSITIVITY_MS = (5.0, 10.0, 20.0, 30.0)


@dataclass(frozen=True)
class Load:
    name: str
    rates: dict[str, float]
    """Affiliate → orders a second credited to them (each order bought through their link)."""
    uplines: dict[str, str]
    """Affiliate → their upline (who earns the invite share)."""


def hot_affiliate() -> Load:
    return Load("100 orders/s on one affiliate", {HOT: 100.0}, {HOT: "up-hot"})


def tenant_peak() -> Load:
    """1,000/s across a tenant: the hot affiliate and 90 more (10/s each) under 9 more uplines."""
    rates, uplines = {HOT: 100.0}, {HOT: "up-hot"}
    for n in range(90):
        rates[f"aff-{n:02d}"] = 10.0
        uplines[f"aff-{n:02d}"] = f"up-{n % 9}"
    return Load("1,000 orders/s per tenant", rates, uplines)


@dataclass
class Result:
    orders: int = 0
    applied: int = 0
    conflicts: int = 0
    retries: int = 0
    exhausted: int = 0
    """Orders whose attempts ran out: they would wait out the visibility timeout, then reach the DLQ."""
    simulated_seconds: float = 0.0
    wall_seconds: float = 0.0
    most_attempts: int = 0
    """The most attempts one order took (the policy allows ``RetryPolicy().attempts``)."""
    p99_seconds: float = 0.0
    """From arrival to applied, the 99th percentile (simulated)."""
    money_problems: tuple[str, ...] = ()
    expected_fen: int = 0
    credited_fen: int = 0


def _share(amount_fen: int, rate_bp: int) -> int:
    """The commission on an amount, computed here independently of the engine (half up to the fen)."""
    exact = Decimal(amount_fen) * rate_bp / 10_000
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _order(n: int, affiliate: str, amount_fen: int, paid_at: datetime) -> QueuedEvent:
    return QueuedEvent.model_validate(
        {
            "corp_id": CORP,
            "received_at": paid_at,
            "event": {
                "event_id": f"paid-{n}",
                "type": "order.paid",
                "occurred_at": paid_at,
                "data": {
                    "order_id": f"O-{n}",
                    "customer_id": f"c-{n}",
                    "store_id": "s1",
                    "paid_at": paid_at,
                    "source": {"scene": "share", "affiliate_id": affiliate},
                    "is_group_buy": False,
                    "lines": [
                        {
                            "line_id": "L1",
                            "product_id": "p1",
                            "category_path": ["服饰"],
                            "quantity": 1,
                            "payable_fen": amount_fen,
                            "paid_fen": amount_fen,
                            "discount_fen": 0,
                            "points_fen": 0,
                            "balance_fen": 0,
                        }
                    ],
                },
            },
        }
    )


def _program(table: MemoryTable, load: Load) -> None:
    settings = {
        "promotion_enabled": True,
        "invitation_image_url": "https://img.example.com/invite.png",
        "commission_rate_bp": COMMISSION_BP,
        "invite_rate_bp": INVITE_BP,
        "application": {"review": "auto"},
    }
    joined = T0 - timedelta(days=30)
    store.save_settings(table, CORP, ProgramSettings.model_validate(settings), joined)
    for upline in sorted(set(load.uplines.values())):
        submit_application(
            table, CORP, upline, ApplicationInput(openid=f"openid-{upline}"), joined, time_zone=TZ
        )
    for affiliate, upline in sorted(load.uplines.items()):
        body = ApplicationInput(openid=f"openid-{affiliate}", invited_by=upline)
        submit_application(table, CORP, affiliate, body, joined, time_zone=TZ)


def run(
    load: Load,
    seconds: float,
    *,
    hold_ms: float = HOLD_MS,
    read_ms: float = 3.0,
    seed: int = 15,
    policy: RetryPolicy | None = None,
) -> Result:
    """``load`` for ``seconds`` of simulated time with ``policy`` (the production one unless given;
    its pauses and jitter on the run's timeline); the result, money checked."""
    timeline = SimulatedTime()
    table = MemoryTable(Contention(timeline, hold_seconds=hold_ms / 1000, read_seconds=read_ms / 1000))
    _program(table, load)
    result = Result()
    draw = random.Random(seed)
    jitter = random.Random(seed + 1)

    current = threading.local()  # the order a consumer thread is applying

    def pause(seconds: float) -> None:
        result.retries += 1
        current.attempts += 1
        timeline.wait(seconds)

    retry = dataclasses.replace(policy or RetryPolicy(), sleep=pause, random=jitter.random)
    clock = FixedClock(T0)
    consumers = build_consumers(
        EventPorts(
            table=table,
            ledger=LedgerRepository(table),
            orders=TableOrderRepository(table),
            payouts=PayoutRepository(table),
            payout_queue=None,  # type: ignore[arg-type]  # order.paid queues no payout
            emit=lambda events: None,
            wecom_client=lambda corp: None,
            clock=clock,
            time_zone=TZ,
            window=AfterSalesWindow(7),
            retry=retry,
        )
    )
    expected: dict[str, int] = {}

    latencies: list[float] = []

    def handle(event: QueuedEvent) -> None:
        arrived = timeline.now()
        clock.instant = T0 + timedelta(seconds=arrived)
        current.attempts = 1
        try:
            apply_queued_event(event, consumers)
            result.applied += 1
            latencies.append(timeline.now() - arrived)
        except TransactionConflicted:
            result.exhausted += 1
        result.most_attempts = max(result.most_attempts, current.attempts)

    arrivals = sorted(
        (at, affiliate) for affiliate, rate in load.rates.items() for at in _poisson(draw, rate, seconds)
    )
    for n, (at, affiliate) in enumerate(arrivals):
        amount = draw.randrange(1_000, 100_000)
        event = _order(n, affiliate, amount, T0 + timedelta(seconds=at))
        upline = load.uplines[affiliate]
        expected[affiliate] = expected.get(affiliate, 0) + _share(amount, COMMISSION_BP)
        expected[upline] = expected.get(upline, 0) + _share(amount, INVITE_BP)
        timeline.at(at, lambda event=event: handle(event))  # type: ignore[misc]
    result.orders = len(arrivals)
    started = time.perf_counter()
    timeline.run()
    result.wall_seconds = time.perf_counter() - started
    result.simulated_seconds = timeline.now()
    result.conflicts = table.conflicts
    latencies.sort()
    result.p99_seconds = latencies[int(len(latencies) * 0.99)] if latencies else 0.0
    result.expected_fen = sum(expected.values())
    result.money_problems = tuple(_money_problems(table, expected, result))
    return result


def _poisson(draw: random.Random, rate: float, seconds: float) -> list[float]:
    at, found = 0.0, []
    while True:
        at += draw.expovariate(rate)
        if at >= seconds:
            return found
        found.append(at)


def _money_problems(table: MemoryTable, expected: dict[str, int], result: Result) -> list[str]:
    """Each beneficiary's credits against the independent computation; each balance against its entries."""
    ledger = LedgerRepository(table)
    problems = []
    for who, owed in sorted(expected.items()):
        account = store.account(CORP, who)
        balance, entries = ledger.balance(account), ledger.entries(account)
        result.credited_fen += balance[Bucket.EARNED]
        if balance[Bucket.EARNED] != owed:
            problems.append(f"{who}: credited {balance[Bucket.EARNED]} fen, expected {owed}")
        if fold(entries) != balance:
            problems.append(f"{who}: balance is not the sum of its {len(entries)} entries")
        problems += [f"{who}: {violation}" for violation in balance.violations()]
    return problems


def report(load: Load, result: Result, hold_ms: float) -> bool:
    """Print one load's figures beside their budgets; whether all are within."""
    exact = not result.money_problems  # every account's credits against the independent computation
    within = result.exhausted == 0 and exact  # each order is applied or exhausted, never both
    attempts = result.applied + result.exhausted + result.conflicts
    print(f"{load.name}  ({result.orders} orders in {result.simulated_seconds:.1f} simulated s)")
    print(
        f"  transaction conflicts   {result.conflicts:6d}"
        f"  ({result.conflicts / max(attempts, 1):.0%} of write attempts)"
    )
    print(
        f"  retries (full jitter)   {result.retries:6d}  most attempts of one order {result.most_attempts}"
        f" of {RetryPolicy().attempts}; arrival to applied p99 {result.p99_seconds * 1000:.0f} ms"
    )
    print(
        f"  attempts exhausted→DLQ  {result.exhausted:6d}  budget 0"
        f"{'' if result.exhausted == 0 else '  OVER BUDGET'}"
    )
    print(
        f"  money exact             {'yes' if exact else 'NO'}     credited {result.credited_fen} fen,"
        f" independently computed {result.expected_fen} fen{'' if exact else '  OVER BUDGET'}"
    )
    for problem in result.money_problems[:5]:
        print(f"    {problem}")
    print(f"  run time                {result.wall_seconds:6.1f} s wall clock (hold {hold_ms} ms per write)")
    return within


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="simulated seconds of the hot affiliate load"
    )
    parser.add_argument(
        "--hold-ms", type=float, default=HOLD_MS, help="how long a write call holds its items"
    )
    parser.add_argument("--read-ms", type=float, default=3.0, help="how long a read round trip takes")
    args = parser.parse_args(argv)
    print(
        f"order.paid under DynamoDB's transaction conflicts (contention model: a write holds its items"
        f" {args.hold_ms} ms, a read takes {args.read_ms} ms; one item can take at most"
        f" {1000 / args.hold_ms:.0f} transactions a second, one affiliate's payments spread over"
        f" {BALANCE_SHARDS} balance and {STANDING_SHARDS} level shards)"
    )
    within = []
    for load, seconds in ((hot_affiliate(), args.seconds), (tenant_peak(), args.seconds / 5)):
        result = run(load, seconds, hold_ms=args.hold_ms, read_ms=args.read_ms)
        within.append(report(load, result, args.hold_ms))
    print("how the hot affiliate fares if a transaction holds its items longer (informational, no budget):")
    for hold in SENSITIVITY_MS:
        result = run(hot_affiliate(), args.seconds / 2, hold_ms=hold, read_ms=args.read_ms)
        print(
            f"  hold {hold:4.1f} ms  one item {1000 / hold:4.0f}/s  conflicts {result.conflicts:5d}"
            f"  attempts exhausted {result.exhausted:4d}  money exact for what was applied"
            f" {'yes' if not _unexplained(result) else 'NO'}"
        )
    return 0 if all(within) else 1


def _unexplained(result: Result) -> list[str]:
    """Money problems other than the orders that never applied (what exhausted its attempts)."""
    return [problem for problem in result.money_problems if "expected" not in problem]


if __name__ == "__main__":
    sys.exit(main())
