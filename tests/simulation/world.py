"""A deterministic simulation of the money spine: ledger, payouts, queue, provider, faults.

Everything runs in one process on a seeded random generator: the real ledger and payout
services and repositories over an in-memory table (same contract as DynamoDB), the real
WeCom pay-to-employee client signing real requests, answered in-process by the payments
sandbox's books. Faults are injected between and around side effects:

- the table throttles (nothing written) or "crashes" after a write was committed;
- the queue redelivers, duplicates and reorders messages; 5 receives send one to the DLQ;
- the provider times out (before or after moving money), answers SYSTEMERROR (before or
  after), NOTENOUGH, FREQ_LIMIT, and its queries fail.

After every step the invariants of SPEC §5 are checked; a violation names the seed and the
command that replays it exactly.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from incentives.core.clock import parse_instant
from incentives.core.errors import ConcurrentModification, Conflict, NotFound, RetryLater
from incentives.guides import service as incentives
from incentives.guides.rules import PaymentMethod, month_of
from incentives.guides.triggers import Trigger, trigger_for_behavior
from incentives.ledger import postings
from incentives.ledger.model import Account, EntryKind, OwnerKind, fold
from incentives.ledger.service import settle_holds_past
from incentives.org.service import guide_key
from incentives.payouts import service
from incentives.payouts.model import NOT_SENT, RETRIES_EXHAUSTED, Payee, Payout, PayoutStatus, ProviderName
from incentives.payouts.provider import PayoutProvider
from incentives.payouts.wecom_pay import PAY_PATH, QUERY_PATH, WeComPayConfig, WeComPayToEmployee
from incentives.storage.ledger import InsufficientBalance, LedgerRepository
from incentives.storage.payouts import PayoutRepository
from incentives.storage.table import MemoryTable, Put, Write
from infra.local.sandboxes.payments import FAULTS, Merchant, PaymentsSandbox
from tests.simulation import affiliates as affiliate_side

CORP = "ww-sim"
MAX_RECEIVES = 5
START = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
PROVIDER_FAULTS = list(FAULTS)


class Throttled(Exception):
    """Like ProvisionedThroughputExceeded after botocore's retries: nothing was written."""


class CrashedAfterWrite(Exception):
    """The write committed, then the process died before it could act on the answer."""


class FaultyTable(MemoryTable):
    """The in-memory table, with faults the world switches on for the next write."""

    def __init__(self) -> None:
        super().__init__()
        self.next_fault: str | None = None

    def transact(self, writes: Sequence[Write]) -> None:
        fault, self.next_fault = self.next_fault, None
        if fault == "throttle":
            raise Throttled("throttled")
        super().transact(writes)
        if fault == "crash":
            raise CrashedAfterWrite("crashed after the write")


@dataclass
class Message:
    payout_id: str
    generation: int
    receives: int = 0


@dataclass
class SimQueue:
    """An SQS-like queue: at-least-once, unordered, redrive to a DLQ after 5 receives."""

    random: random.Random
    messages: list[Message] = field(default_factory=list)
    dead: list[Message] = field(default_factory=list)

    def send(self, corp_id: str, payout_id: str, generation: int) -> None:
        self.messages.append(Message(payout_id, generation))

    def receive(self) -> Message | None:
        if not self.messages:
            return None
        message = self.messages.pop(self.random.randrange(len(self.messages)))
        if message.receives >= MAX_RECEIVES:
            self.dead.append(message)
            return self.receive()
        message.receives += 1
        return message

    def give_back(self, message: Message) -> None:
        self.messages.append(message)


def sandbox_transport(books: PaymentsSandbox) -> Callable[[str, bytes, float], bytes]:
    """The provider's books answering in-process; a late answer is a timeout to the client."""

    def post(url: str, body: bytes, timeout: float) -> bytes:
        if url.endswith(PAY_PATH):
            answer = books.pay_to_employee(body)
        elif url.endswith(QUERY_PATH):
            answer = books.query_pay_to_employee(body)
        else:
            raise OSError(f"no route {url}")
        if answer.delay_seconds > timeout:
            raise TimeoutError("timed out")
        return answer.body

    return post


Invariant = Callable[["World"], list[str]]


@dataclass
class World:
    seed: int
    rng: random.Random
    table: FaultyTable
    ledger: LedgerRepository
    payouts: PayoutRepository
    queue: SimQueue
    books: PaymentsSandbox
    providers: dict[ProviderName, PayoutProvider]
    accounts: list[Account]
    now: datetime = START
    credits: list[tuple[Account, str]] = field(default_factory=list)
    payout_ids: set[str] = field(default_factory=set)
    trace: list[str] = field(default_factory=list)
    counter: int = 0
    triggers: list[Trigger] = field(default_factory=list)
    rule_limit: int = 0
    affiliates: Any = None
    """The affiliate side (tests.simulation.affiliates.AffiliateSide)."""

    @property
    def corp(self) -> str:
        return CORP

    @classmethod
    def create(cls, seed: int) -> World:
        rng = random.Random(seed)
        merchant = Merchant("1900000109", "k" * 32, "pay-secret", balance_fen=rng.choice([10**9, 50_000]))
        books = PaymentsSandbox({merchant.mch_id: merchant}, timeout_delay_seconds=10.0)
        config = WeComPayConfig(
            CORP,
            merchant.mch_id,
            merchant.api_key,
            merchant.payment_secret,
            "1000002",
            base_url="sandbox://",
            timeout_seconds=1.0,
        )
        table = FaultyTable()
        world = cls(
            seed=seed,
            rng=rng,
            table=table,
            ledger=LedgerRepository(table),
            payouts=PayoutRepository(table),
            queue=SimQueue(rng),
            books=books,
            providers={ProviderName.WECOM_PAY: WeComPayToEmployee(config, sandbox_transport(books))},
            accounts=[Account(CORP, OwnerKind.GUIDE, f"guide-{n}") for n in range(3)]
            + [Account(CORP, OwnerKind.AFFILIATE, "aff-1")],
        )
        world.setup_guide_incentives()
        world.affiliates = affiliate_side.setup(world)
        return world

    def setup_guide_incentives(self) -> None:
        """Guides of an outlet, a custom rule with a monthly limit, online payment (seed 000)."""
        for account in self.accounts:
            if account.owner_kind is OwnerKind.GUIDE:
                self.table.transact(
                    [
                        Put(
                            {
                                **guide_key(CORP, account.owner_id),
                                "kind": "guide",
                                "user_id": account.owner_id,
                                "name": account.owner_id,
                                "outlet_ids": ["21"],
                                "dept_path": ["1", "2", "21"],
                            }
                        )
                    ]
                )
        self.rule_limit = self.rng.choice([500, 1_000, 5_000])
        incentives.save_settings(
            self.table,
            CORP,
            incentives.IncentiveSettings(payment_method=PaymentMethod.ONLINE),
            True,
            self.now,
        )
        incentives.create_custom_rule(
            self.table,
            CORP,
            incentives.RuleInput(
                name="到店",
                behavior="visit",
                amount_fen=self.rng.choice([100, 200, 300]),
                monthly_limit_fen=self.rule_limit,
            ),
            self.now,
        )

    def _guide_effects(self) -> incentives.GuideEffects:
        return incentives.GuideEffects(
            self.table, self.payouts, self.queue, lambda corp, user: f"o-{user}", "Asia/Shanghai"
        )

    def guide_behavior(self) -> str:
        """A customer behavior a guide earns on; sometimes a duplicate or a late redelivery of an old one."""
        if self.triggers and self.rng.random() < 0.3:
            trigger = self.rng.choice(self.triggers)
        else:
            guide = self.rng.choice([a for a in self.accounts if a.owner_kind is OwnerKind.GUIDE])
            event_id = self._id("visit-")
            trigger = trigger_for_behavior(event_id, "visit", f"c-{event_id}", guide.owner_id, self.now)
            self.triggers.append(trigger)
        self._maybe_fault_table()
        try:
            outcome = incentives.grant(self._guide_effects(), CORP, trigger)
        except (Throttled, CrashedAfterWrite, ConcurrentModification) as fault:
            self._remember_reward_payouts()  # a crash after the write committed leaves a queued payout behind
            return f"reward for {trigger.source_event_id} interrupted ({type(fault).__name__})"
        self._remember_reward_payouts()
        return f"behavior {trigger.source_event_id}: {outcome}"

    def _remember_reward_payouts(self) -> None:
        for item in self.table.items.values():
            if item.get("kind") == "payout" and item.get("provider") != ProviderName.OFFLINE.value:
                self.payout_ids.add(item["payout_id"])

    def _id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def _maybe_fault_table(self) -> None:
        roll = self.rng.random()
        self.table.next_fault = "throttle" if roll < 0.08 else "crash" if roll < 0.16 else None

    # --- operations ------------------------------------------------------------------------------

    def credit(self) -> str:
        account = self.rng.choice(self.accounts)
        credit_id = self._id("credit:")
        amount = self.rng.randint(100, 30_000)
        hold = self.now + timedelta(hours=self.rng.choice([0, 1, 48]))
        self._maybe_fault_table()
        try:
            self.ledger.credit(postings.credit(account, credit_id, amount, self.now), hold_until=hold)
        except (Throttled, CrashedAfterWrite) as fault:
            if isinstance(fault, Throttled):
                return f"credit {credit_id} throttled"
        self.credits.append((account, credit_id))
        return f"credit {credit_id} {amount} to {account.owner_id}"

    def reverse(self) -> str:
        if not self.credits:
            return "reverse: nothing to reverse"
        account, credit_id = self.rng.choice(self.credits)
        hold = self.ledger.hold(account, credit_id)
        if hold is None or hold.remaining_fen == 0:
            return f"reverse {credit_id}: settled or fully reversed"
        amount = self.rng.randint(1, hold.remaining_fen)
        entry = postings.reversal(hold, self._id("reversal:"), amount, self.now)
        self._maybe_fault_table()
        with contextlib.suppress(Throttled, CrashedAfterWrite):
            self.ledger.reverse(entry)
        return f"reverse {amount} of {credit_id}"

    def clawback(self) -> str:
        account = self.rng.choice(self.accounts)
        if self.ledger.balance(account).withdrawable <= 0 or not self.credits:
            return "clawback: nothing withdrawable"
        amount = self.rng.randint(1, max(1, self.ledger.balance(account).withdrawable))
        entry = postings.clawback(account, "refund", self._id("clawback:"), amount, self.now)
        self._maybe_fault_table()
        with contextlib.suppress(Throttled, CrashedAfterWrite):
            self.ledger.post([entry], self.now)
        return f"clawback {amount} from {account.owner_id}"

    def settle(self) -> str:
        self.now += timedelta(hours=self.rng.choice([1, 24, 72]))
        self._maybe_fault_table()
        try:
            settled = settle_holds_past(self.ledger, self.now)
        except (Throttled, CrashedAfterWrite) as fault:
            return f"settlement interrupted ({type(fault).__name__})"
        return f"settled {settled} holds at {self.now.isoformat()}"

    def request_payout(self) -> str:
        account = self.rng.choice(self.accounts)
        withdrawable = self.ledger.balance(account).withdrawable
        if withdrawable < 100:
            return f"payout for {account.owner_id}: too little withdrawable"
        amount = self.rng.randint(100, withdrawable)
        source = self._id("withdrawal:")
        payee = Payee(account, openid=f"o-{account.owner_id}", dept_path=("1",))
        request = service.PayoutRequest(source, payee, amount, ProviderName.WECOM_PAY, "sim payout")
        self._maybe_fault_table()
        try:
            payout = service.create_payout(self.payouts, self.queue, request, self.now)
        except (Throttled, CrashedAfterWrite, InsufficientBalance) as fault:
            return f"payout {source} interrupted ({type(fault).__name__})"
        finally:
            from incentives.payouts.model import payout_id_for

            if self.payouts.get(CORP, payout_id_for(CORP, source)) is not None:
                self.payout_ids.add(payout_id_for(CORP, source))
        if self.rng.random() < 0.2:
            self.queue.send(CORP, payout.payout_id, payout.generation)  # a duplicate delivery
        return f"payout {payout.payout_id} of {amount} for {account.owner_id}"

    def provider_fault(self) -> str:
        operation = self.rng.choice(["pay", "pay", "pay_query"])
        fault = self.rng.choice(PROVIDER_FAULTS)
        self.books.add_faults(operation, [fault])
        return f"provider will answer {operation} with {fault}"

    def work(self) -> str:
        message = self.queue.receive()
        if message is None:
            return "worker: queue empty"
        final = message.receives >= MAX_RECEIVES
        self._maybe_fault_table()
        try:
            payout = service.process_payout(
                self.payouts,
                self.providers,
                CORP,
                message.payout_id,
                message.generation,
                self.now,
                final_attempt=final,
            )
        except (RetryLater, ConcurrentModification, Throttled, CrashedAfterWrite, NotFound) as fault:
            self.queue.give_back(message)
            return f"worker {message.payout_id} #{message.receives}: {type(fault).__name__}"
        return f"worker {message.payout_id} #{message.receives}: {payout.status.value}"

    def requeue_failed(self) -> str:
        for payout_id in sorted(self.payout_ids):
            payout = self.payouts.get(CORP, payout_id)
            if payout is not None and payout.status is PayoutStatus.FAILED and not payout.unresolved:
                self._maybe_fault_table()
                try:
                    service.requeue(self.payouts, self.queue, CORP, payout_id, self.now, "sim")
                except (Throttled, CrashedAfterWrite, Conflict, ConcurrentModification):
                    return f"requeue {payout_id} interrupted"
                return f"requeued {payout_id}"
        return "requeue: nothing failed"

    def reconcile(self) -> str:
        self.now += timedelta(minutes=15)
        self._maybe_fault_table()
        try:
            result = service.reconcile(self.payouts, lambda corp: self.providers, self.queue, self.now)
        except (Throttled, CrashedAfterWrite, ConcurrentModification) as fault:
            return f"reconcile interrupted ({type(fault).__name__})"
        return f"reconciled {result}"

    def top_up(self) -> str:
        self.books.merchants["1900000109"].balance_fen += 10**8
        return "merchant topped up"

    OPERATIONS: tuple[tuple[str, int], ...] = (
        ("credit", 5),
        ("reverse", 2),
        ("clawback", 1),
        ("settle", 2),
        ("request_payout", 4),
        ("provider_fault", 2),
        ("work", 8),
        ("requeue_failed", 1),
        ("reconcile", 1),
        ("top_up", 1),
        ("guide_behavior", 4),
    )

    def step(self) -> str:
        names = [name for name, weight in self.OPERATIONS for _ in range(weight)]
        names += [f"affiliate:{name}" for name, weight in affiliate_side.OPERATIONS for _ in range(weight)]
        name = self.rng.choice(names)
        if name.startswith("affiliate:"):
            return str(getattr(affiliate_side, name.removeprefix("affiliate:"))(self))
        return str(getattr(self, name)())

    def drain(self) -> None:
        """No more faults: redeliver every trigger once more, then settle, resolve and pay everything."""
        self.table.next_fault = None
        affiliate_side.drain(self)
        for trigger in self.triggers:
            incentives.grant(self._guide_effects(), CORP, trigger)
        self._remember_reward_payouts()
        for queue in self.books.faults.values():
            queue.clear()
        self.books.merchants["1900000109"].balance_fen += 10**10
        for _ in range(20):
            self.now += timedelta(hours=1)
            service.reconcile(self.payouts, lambda corp: self.providers, self.queue, self.now)
            for payout_id in sorted(self.payout_ids):
                payout = self.payouts.get(CORP, payout_id)
                if payout is not None and payout.status is PayoutStatus.FAILED and not payout.unresolved:
                    service.requeue(self.payouts, self.queue, CORP, payout_id, self.now, "drain")
            self.queue.messages.extend(Message(m.payout_id, m.generation) for m in self.queue.dead)
            self.queue.dead.clear()
            while self.queue.messages:
                message = self.queue.receive()
                if message is None:
                    break
                try:
                    service.process_payout(
                        self.payouts, self.providers, CORP, message.payout_id, message.generation, self.now
                    )
                except RetryLater:
                    self.queue.give_back(message)
                    break
            settle_holds_past(self.ledger, self.now + timedelta(days=30))
            if all(self._payout(pid).status is PayoutStatus.PAID for pid in self.payout_ids):
                return

    def _payout(self, payout_id: str) -> Payout:
        payout = self.payouts.get(CORP, payout_id)
        assert payout is not None
        return payout


# --- invariants ----------------------------------------------------------------------------------


def ledger_invariants(world: World) -> list[str]:
    problems = []
    for account in world.accounts:
        balance = world.ledger.balance(account)
        entries = world.ledger.entries(account)
        if balance != fold(entries):
            problems.append(
                f"{account.owner_id}: balance {dict(balance.buckets)} is not the sum of its entries"
            )
        problems.extend(f"{account.owner_id}: {problem}" for problem in balance.violations())
    return problems


def payout_invariants(world: World) -> list[str]:
    problems = []
    transfers = {(t["channel"], t["number"]): t for t in world.books.transfers_made()}
    payout_entries: dict[str, int] = {}
    for account in world.accounts:
        for entry in world.ledger.entries(account):
            if entry.kind is EntryKind.PAYOUT:
                payout_entries[entry.ref] = payout_entries.get(entry.ref, 0) + 1
    for payout_id in world.payout_ids:
        payout = world._payout(payout_id)
        moved = transfers.get(("pay", payout_id))
        if moved is not None and moved["amount_fen"] != payout.amount_fen:
            problems.append(f"{payout_id}: moved {moved['amount_fen']} for a payout of {payout.amount_fen}")
        if payout.status is PayoutStatus.PAID and moved is None:
            problems.append(f"{payout_id}: paid but no money moved")
        if (
            moved is not None
            and payout.status is PayoutStatus.FAILED
            and payout.failure_code != RETRIES_EXHAUSTED
        ):
            problems.append(
                f"{payout_id}: money moved but the payout failed definitively ({payout.failure_code})"
            )
        if payout.failure_code == NOT_SENT and moved is not None:
            problems.append(f"{payout_id}: marked not sent but money moved")
        expected_entries = 1 if payout.status is PayoutStatus.PAID else 0
        if payout_entries.get(payout_id, 0) != expected_entries:
            problems.append(
                f"{payout_id}: {payout_entries.get(payout_id, 0)} payout entries while {payout.status}"
            )
    strays = {number for channel, number in transfers if number not in world.payout_ids}
    if strays:
        problems.append(f"money moved under unknown numbers {sorted(strays)}")
    return problems


def settled_invariants(world: World) -> list[str]:
    """After the drain: every payout paid exactly once, and the books agree with the ledger."""
    problems = [
        f"{pid}: still {world._payout(pid).status.value} after the drain"
        for pid in sorted(world.payout_ids)
        if world._payout(pid).status is not PayoutStatus.PAID
    ]
    moved = sum(t["amount_fen"] for t in world.books.transfers_made())
    paid = sum(
        entry.amount_fen
        for account in world.accounts
        for entry in world.ledger.entries(account)
        if entry.kind is EntryKind.PAYOUT and entry.ref in world.payout_ids
    )  # withdrawals settled manually moved money outside the provider
    if moved != paid:
        problems.append(f"the provider moved {moved} fen but the ledger says {paid} were paid")
    return problems


def reward_invariants(world: World) -> list[str]:
    """No reward twice, no payout twice, monthly limits never exceeded (seed 000)."""
    problems = []
    rewards = [item for item in world.table.items.values() if item.get("kind") == "guide_reward"]
    by_source: dict[str, int] = {}
    per_month: dict[tuple[str, str, int], int] = {}
    for reward in rewards:
        by_source[reward["source_event_id"]] = by_source.get(reward["source_event_id"], 0) + 1
        key = (
            reward["guide_id"],
            month_of(parse_instant(reward["created_at"]), "Asia/Shanghai"),
            int(reward["version"]),
        )
        per_month[key] = per_month.get(key, 0) + int(reward["amount_fen"])
    problems += [
        f"source {source} rewarded {count} times" for source, count in by_source.items() if count > 1
    ]
    problems += [
        f"{key}: {total} fen rewarded above the monthly limit {world.rule_limit}"
        for key, total in per_month.items()
        if total > world.rule_limit
    ]
    sources = [item["source"] for item in world.table.items.values() if item.get("kind") == "payout"]
    duplicates = {source for source in sources if sources.count(source) > 1}
    if duplicates:
        problems.append(f"several payouts for {sorted(duplicates)}")
    return problems


def rewards_paid(world: World) -> list[str]:
    """After the drain: every reward has exactly its payout, paid."""
    problems = []
    for reward in (item for item in world.table.items.values() if item.get("kind") == "guide_reward"):
        from incentives.payouts.model import payout_id_for

        payout = world.payouts.get(CORP, payout_id_for(CORP, f"reward:{reward['reward_id']}"))
        if (
            payout is None
            or payout.status is not PayoutStatus.PAID
            or payout.amount_fen != reward["amount_fen"]
        ):
            problems.append(f"reward {reward['reward_id']} is not paid exactly ({payout and payout.status})")
    return problems


INVARIANTS: tuple[Invariant, ...] = (
    ledger_invariants,
    payout_invariants,
    reward_invariants,
    affiliate_side.commission_invariants,
    affiliate_side.withdrawal_invariants,
)


class InvariantViolation(AssertionError):
    pass


def replay_command(seed: int) -> str:
    return f"python -m tests.simulation --seed {seed}"


def run(
    seed: int, steps: int = 60, invariants: Sequence[Invariant] = INVARIANTS, verbose: bool = False
) -> World:
    """Run one seeded world; raise :class:`InvariantViolation` naming the seed and replay command."""
    world = World.create(seed)
    for number in range(steps):
        line = world.step()
        world.trace.append(f"{number:3d} {line}")
        if verbose:
            print(world.trace[-1])
        problems = [problem for check in invariants for problem in check(world)]
        if problems:
            raise InvariantViolation(_report(world, number, problems))
    world.drain()
    problems = [
        problem
        for check in (*invariants, settled_invariants, rewards_paid, affiliate_side.settled_commissions)
        for problem in check(world)
    ]
    if problems:
        raise InvariantViolation(_report(world, steps, problems))
    return world


def _report(world: World, step: int, problems: list[str]) -> str:
    recent = "\n".join(world.trace[-8:])
    return (
        f"seed {world.seed}, step {step}: "
        + "; ".join(problems)
        + f"\nlast steps:\n{recent}\nreplay: {replay_command(world.seed)}"
    )
