"""A deterministic simulation of the money spine: events, ledger, payouts, queue, providers, faults.

Everything runs in one process on a seeded random generator: the product's own event dispatch
and consumers, ledger, payout and withdrawal services and repositories over an in-memory table
(same contract as DynamoDB), the real WeCom pay-to-employee and WeChat Pay transfer clients
signing real requests, answered in-process by the payments sandbox's books. Faults are
injected between and around side effects:

- the table throttles (nothing written) or "crashes" after a write was committed;
- the queue redelivers, duplicates and reorders messages; 5 receives send one to the DLQ;
- two workers take the same payout message at once;
- the process dies after the provider moved money (or made a bill), before it was stored;
- the provider times out (before or after moving money), answers SYSTEMERROR (before or
  after), NOTENOUGH, FREQ_LIMIT, and its queries and cancels fail;
- WeChat Pay transfers wait for the payee, who confirms with what the product showed them,
  declines, or ignores the bill until its deadline (the reconciler cancels it, or WeChat Pay
  closes it); the result notifications arrive once, twice, late, interrupted, or never (the
  reconciler's checks find the outcome).

After every step the structural checks run (ledger identities, the provider's books, no
settlement before its window); after every drain the oracle (``tests.simulation.oracle``)
recomputes every account from the world's history and the ledger must agree, and replays the
levels of a second tenant whose rules are driven by time (``tests.simulation.timed_levels``). A
violation names the seed and the command that replays it exactly.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from incentives.core.errors import ConcurrentModification, Conflict, NotFound, RetryLater
from incentives.events.consumers import EventPorts, build_consumers
from incentives.events.dispatch import Consumers, apply_queued_event
from incentives.guides import service as incentives
from incentives.guides.rules import PaymentMethod
from incentives.ledger import postings
from incentives.ledger.errors import InsufficientBalance
from incentives.ledger.model import Account, OwnerKind, fold
from incentives.ledger.service import settle_holds_past
from incentives.messages.queued import QueuedEvent
from incentives.orders.aggregate import AfterSalesWindow
from incentives.payouts import actions, creation, pipeline, reconciler
from incentives.payouts.model import Payee, Payout, PayoutStatus, ProviderName, payout_id_for
from incentives.payouts.provider import Outcome, PayoutProvider, ProviderResult
from incentives.payouts.wechat_notify import NotifyKeys, open_notice
from incentives.payouts.wechat_transfer import WeChatTransfer, WeChatTransferConfig
from incentives.payouts.wecom_pay import PAY_PATH, QUERY_PATH, WeComPayConfig, WeComPayToEmployee
from incentives.storage.guides import TableGuideRepository
from incentives.storage.keys import guide_key
from incentives.storage.ledger import LedgerRepository
from incentives.storage.memory_table import MemoryTable
from incentives.storage.orders import TableOrderRepository
from incentives.storage.payouts import PayoutRepository
from incentives.storage.table import Put, Write
from infra.local.sandboxes.payments import FAULTS, Merchant, Notice, PaymentsSandbox
from tests.simulation import affiliates as affiliate_side
from tests.simulation import oracle, timed_levels
from tests.simulation import subsidy as subsidy_side
from tests.simulation.history import History

CORP = "ww-sim"
MCH_ID = "1900000109"
WECHATPAY_KEY_ID = "PUB_KEY_ID_0119000001092026000000000000000001"
API_V3_KEY = "sim-apiv3-key-0123456789abcdefgh"
MAX_RECEIVES = 5
START = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
PROVIDER_FAULTS = list(FAULTS)
T = TypeVar("T")


class Throttled(Exception):
    """Like ProvisionedThroughputExceeded after botocore's retries: nothing was written."""


class CrashedAfterWrite(Exception):
    """The write committed, then the process died before it could act on the answer."""


INTERRUPTIONS = (Throttled, CrashedAfterWrite, ConcurrentModification, RetryLater)
"""What makes SQS deliver a message again (or an operator press the button again)."""


class FaultyTable(MemoryTable):
    """The in-memory table, with faults the world switches on for the next write."""

    def __init__(self) -> None:
        super().__init__()
        self.next_fault: str | None = None
        self.meanwhile: Callable[[], None] | None = None
        """Runs just before the next write: another request racing this one."""

    def transact(self, writes: Sequence[Write]) -> None:
        meanwhile, self.meanwhile = self.meanwhile, None
        if meanwhile is not None:
            meanwhile()
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
    """WeCom pay-to-employee answered in-process by the books; a late answer is a timeout."""

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


@cache
def _key_pair(name: str) -> tuple[str, str]:
    """One RSA key per name and process (private PEM, public PEM): one per seed would cost seconds."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class SimWeCom:
    """The one WeCom call the money spine makes: a member's openid for pay-to-employee."""

    def convert_to_openid(self, user_id: str) -> str:
        return f"o-{user_id}"


class WorldClock:
    def __init__(self, world: World) -> None:
        self._world = world

    def now(self) -> datetime:
        return self._world.now


class Interleaved:
    """A provider whose first call lets ``meanwhile`` run first: a second worker that took the
    same message runs while this one is about to reach the provider."""

    def __init__(self, inner: PayoutProvider, meanwhile: Callable[[], None]) -> None:
        self._inner, self._meanwhile = inner, meanwhile

    def _once(self) -> None:
        meanwhile, self._meanwhile = self._meanwhile, lambda: None
        meanwhile()

    def transfer(self, payout: Payout) -> ProviderResult:
        self._once()
        return self._inner.transfer(payout)

    def query(self, payout: Payout) -> ProviderResult:
        self._once()
        return self._inner.query(payout)


class DiesAfterTransfer:
    """The process dies right after the provider moved the money (or made the bill that waits
    for the payee): the next write never happens."""

    def __init__(self, inner: PayoutProvider, table: FaultyTable) -> None:
        self._inner, self._table = inner, table

    def transfer(self, payout: Payout) -> ProviderResult:
        result = self._inner.transfer(payout)
        if result.outcome in (Outcome.SUCCESS, Outcome.WAITING):
            self._table.next_fault = "throttle"
        return result

    def query(self, payout: Payout) -> ProviderResult:
        return self._inner.query(payout)


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
    history: History = field(default_factory=History)
    now: datetime = START
    payout_ids: set[str] = field(default_factory=set)
    trace: list[str] = field(default_factory=list)
    counter: int = 0
    rule_amount: int = 0
    rule_limit: int = 0
    consumers: Consumers | None = None
    faulty: bool = True
    """False while draining: the table writes without faults."""
    affiliates: Any = None
    """The affiliate side (tests.simulation.affiliates.AffiliateSide)."""
    notify_keys: NotifyKeys | None = None
    subsidy_rng: random.Random | None = None
    """The subsidy side's own random stream (see :meth:`subsidy_step`)."""
    timed_levels: Any = None
    """The second tenant, whose levels run on time-driven rules (tests.simulation.timed_levels)."""

    @property
    def corp(self) -> str:
        return CORP

    @classmethod
    def create(cls, seed: int) -> World:
        rng = random.Random(seed)
        private_pem, public_pem = _key_pair("merchant")
        wechatpay_private, wechatpay_public = _key_pair("wechatpay")
        merchant = Merchant(
            MCH_ID,
            "k" * 32,
            "pay-secret",
            balance_fen=rng.choice([10**9, 50_000]),
            v3_public_key_pem=public_pem,
            api_v3_key=API_V3_KEY,
        )
        books = PaymentsSandbox(
            {merchant.mch_id: merchant},
            timeout_delay_seconds=10.0,
            platform_key_pem=wechatpay_private,
            platform_key_id=WECHATPAY_KEY_ID,
            close_unconfirmed_after_seconds=rng.choice([24, 30]) * 3600.0,
        )
        config = WeComPayConfig(
            CORP,
            merchant.mch_id,
            merchant.api_key,
            merchant.payment_secret,
            "1000002",
            base_url="sandbox://",
            timeout_seconds=1.0,
        )
        transfer = WeChatTransferConfig(
            mch_id=MCH_ID,
            appid="wxd930ea5d5a258f4f",
            serial_no="SIMSERIAL",
            private_key_pem=private_pem,
            base_url="sandbox://",
            timeout_seconds=1.0,
            notify_url=f"https://incentives.example.com/payments/wechat/notify/{CORP}",
            wechatpay_public_key_pem=wechatpay_public,
            wechatpay_public_key_id=WECHATPAY_KEY_ID,
            api_v3_key=API_V3_KEY,
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
            providers={
                ProviderName.WECOM_PAY: WeComPayToEmployee(config, sandbox_transport(books)),
            },
            accounts=[Account(CORP, OwnerKind.GUIDE, f"guide-{n}") for n in range(3)]
            + [Account(CORP, OwnerKind.AFFILIATE, "aff-1")],
        )
        # WeChat Pay, the payee and the product share the world's clock (signatures, deadlines).
        books.clock = lambda: world.now.timestamp()
        world.providers[ProviderName.WECHAT_TRANSFER] = WeChatTransfer(
            transfer, books.in_process_v3(), clock=lambda: world.now.timestamp()
        )
        world.notify_keys = NotifyKeys(MCH_ID, wechatpay_public, WECHATPAY_KEY_ID, API_V3_KEY)
        world.consumers = build_consumers(
            EventPorts(
                table=table,
                ledger=world.ledger,
                orders=TableOrderRepository(table),
                payouts=world.payouts,
                payout_queue=world.queue,
                emit=lambda events: None,
                wecom_client=lambda corp: SimWeCom(),
                clock=WorldClock(world),
                time_zone="Asia/Shanghai",
                window=AfterSalesWindow(7),
            )
        )
        world.setup_guide_incentives()
        world.affiliates = affiliate_side.setup(world)
        world.subsidy_rng = random.Random(f"subsidy-{seed}")
        subsidy_side.setup(world)
        world.timed_levels = timed_levels.setup(world)
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
        self.rule_amount = self.rng.choice([100, 200, 300])
        incentives.save_settings(
            TableGuideRepository(self.table),
            CORP,
            incentives.IncentiveSettings(payment_method=PaymentMethod.ONLINE),
            True,
            self.now,
        )
        incentives.create_custom_rule(
            TableGuideRepository(self.table),
            CORP,
            incentives.RuleInput(
                name="到店", behavior="visit", amount_fen=self.rule_amount, monthly_limit_fen=self.rule_limit
            ),
            self.now,
        )

    # --- the event backbone and the operators' buttons --------------------------------------------

    def deliver(self, event_id: str, kind: str, fact: Any, *, until_applied: bool, corp: str = CORP) -> str:
        """Put one event through the product's dispatch as the event processor receives it.

        ``until_applied``: redelivered at once after each interruption, as SQS does after the
        visibility timeout, until it is applied; otherwise one attempt (a later redelivery
        follows). The first application is written to the history's timeline (the first tenant's).
        """
        assert self.consumers is not None
        body = json.dumps(
            {
                "corp_id": corp,
                "received_at": self.now.isoformat(),
                "event": {
                    "event_id": event_id,
                    "type": kind,
                    "occurred_at": self.now.isoformat(),
                    "data": fact.model_dump(mode="json"),
                },
            }
        )
        for attempt in range(1, 30):
            self._maybe_fault_table()
            try:
                outcome = apply_queued_event(QueuedEvent.model_validate_json(body), self.consumers)
            except INTERRUPTIONS as fault:
                self.remember_payouts()
                if not until_applied:
                    return f"{event_id} interrupted ({type(fault).__name__}), will be redelivered"
                self.trace.append(f"    {event_id} attempt {attempt} interrupted ({type(fault).__name__})")
                continue
            if corp == CORP:  # the other tenant makes no payouts
                self.history.applied_first(event_id, kind, fact)
                self.remember_payouts()
            return outcome.detail
        raise AssertionError(f"{event_id} was never applied")

    def until_answered(
        self, action: Callable[[], T], *, done_if_conflict_after_fault: bool = False
    ) -> T | Any:
        """An operator or affiliate presses the button again after an interruption until the
        product answers. A conflict after an interrupted attempt means that attempt committed."""
        interrupted = False
        for _attempt in range(30):
            self._maybe_fault_table()
            try:
                return action()
            except INTERRUPTIONS:
                interrupted = True
            except Conflict:
                if interrupted and done_if_conflict_after_fault:
                    return None
                raise
        raise AssertionError("the product never answered")

    def remember_payouts(self) -> None:
        for item in self.table.items.values():
            if item.get("kind") == "payout" and item.get("provider") != ProviderName.OFFLINE.value:
                self.payout_ids.add(item["payout_id"])

    def _id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def _maybe_fault_table(self) -> None:
        if not self.faulty:
            return
        roll = self.rng.random()
        self.table.next_fault = "throttle" if roll < 0.08 else "crash" if roll < 0.16 else None

    # --- operations ------------------------------------------------------------------------------

    def guide_behavior(self) -> str:
        """A customer behavior a guide earns on; sometimes a duplicate or a late redelivery of an old one."""
        if self.history.behaviors and self.rng.random() < 0.3:
            event_id = self.rng.choice(sorted(self.history.behaviors))
            guide, at = self.history.behaviors[event_id]
        else:
            guide = self.rng.choice([a for a in self.accounts if a.owner_kind is OwnerKind.GUIDE]).owner_id
            event_id, at = self._id("visit-"), self.now
            self.history.behaviors[event_id] = (guide, at)
        return self._behavior(event_id, guide, at)

    def _behavior(self, event_id: str, guide: str, at: datetime) -> str:
        from incentives.webhook.models import CustomerBehavior

        fact = CustomerBehavior(customer_id=f"c-{event_id}", behavior="visit", occurred_at=at, guide_id=guide)
        return f"behavior {event_id}: " + self.deliver(
            event_id, "customer.behavior", fact, until_applied=True
        )

    def credit(self) -> str:
        account = self.rng.choice(self.accounts)
        credit_id = self._id("credit:")
        amount = self.rng.randint(100, 30_000)
        hold = self.now + timedelta(hours=self.rng.choice([0, 1, 48]))
        self._maybe_fault_table()
        try:
            self.ledger.credit(postings.credit(account, credit_id, amount, self.now), hold_until=hold)
        except Throttled:
            return f"credit {credit_id} throttled"
        except CrashedAfterWrite:
            pass
        self.history.credits.append((account, credit_id, amount))
        return f"credit {credit_id} {amount} to {account.owner_id}"

    def reverse(self) -> str:
        if not self.history.credits:
            return "reverse: nothing to reverse"
        account, credit_id, _ = self.rng.choice(self.history.credits)
        hold = self.ledger.hold(account, credit_id)
        if hold is None or hold.remaining_fen == 0:
            return f"reverse {credit_id}: settled or fully reversed"
        amount = self.rng.randint(1, hold.remaining_fen)
        entry = postings.reversal(hold, self._id("reversal:"), amount, self.now)
        self._maybe_fault_table()
        try:
            self.ledger.reverse(entry)
        except Throttled:
            return f"reverse of {credit_id} throttled"
        except CrashedAfterWrite:
            pass
        self.history.reversals.append((account, amount))
        return f"reverse {amount} of {credit_id}"

    def clawback(self) -> str:
        account = self.rng.choice(self.accounts)
        withdrawable = self.ledger.balance(account).withdrawable
        if withdrawable <= 0:
            return "clawback: nothing withdrawable"
        amount = self.rng.randint(1, withdrawable)
        entry = postings.clawback(account, "refund", self._id("clawback:"), amount, self.now)
        self._maybe_fault_table()
        try:
            self.ledger.post([entry], self.now)
        except Throttled:
            return f"clawback from {account.owner_id} throttled"
        except CrashedAfterWrite:
            pass
        self.history.clawbacks.append((account, amount))
        return f"clawback {amount} from {account.owner_id}"

    def advance(self, delta: timedelta) -> None:
        """Time passes: the level job runs as each local day begins on the way (its checks are
        dated at the start of a day: a cycle's end, the single check, a figure leaving its window)."""
        target = self.now + delta
        while self.timed_levels is not None and (midnight := next_midnight(self.now)) <= target:
            self.now = midnight
            timed_levels.run_job(self)
        self.now = target

    def settle(self) -> str:
        self.advance(timedelta(hours=self.rng.choice([1, 24, 72, 200])))
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
        # Guides are paid by WeCom Pay at once; affiliates by a WeChat Pay transfer they confirm.
        provider = (
            ProviderName.WECHAT_TRANSFER
            if account.owner_kind is OwnerKind.AFFILIATE
            else ProviderName.WECOM_PAY
        )
        request = creation.PayoutRequest(source, payee, amount, provider, "sim payout")
        self._maybe_fault_table()
        try:
            payout = creation.create_payout(self.payouts, self.queue, request, self.now)
        except InsufficientBalance:
            return f"payout {source} refused: insufficient balance"
        except (Throttled, CrashedAfterWrite) as fault:
            if self.payouts.get(CORP, payout_id_for(CORP, source)) is not None:  # committed: repaired later
                self.payout_ids.add(payout_id_for(CORP, source))
                self.history.payouts.append((account, source, amount))
            return f"payout {source} interrupted ({type(fault).__name__})"
        self.payout_ids.add(payout.payout_id)
        self.history.payouts.append((account, source, amount))
        if self.rng.random() < 0.2:
            self.queue.send(CORP, payout.payout_id, payout.generation)  # a duplicate delivery
        return f"payout {payout.payout_id} of {amount} for {account.owner_id}"

    def provider_fault(self) -> str:
        operation = self.rng.choice(
            ["pay", "pay", "pay_query", "transfer", "transfer_query", "transfer_cancel"]
        )
        fault = self.rng.choice(PROVIDER_FAULTS)
        self.books.add_faults(operation, [fault])
        return f"provider will answer {operation} with {fault}"

    def _attempt(self, message: Message, providers: dict[ProviderName, PayoutProvider]) -> str:
        final = message.receives >= MAX_RECEIVES
        self._maybe_fault_table()
        try:
            payout = pipeline.process_payout(
                self.payouts,
                providers,
                CORP,
                message.payout_id,
                message.generation,
                self.now,
                final_attempt=final,
            )
        except (*INTERRUPTIONS, NotFound) as fault:
            return f"{type(fault).__name__}"
        return payout.status.value

    def work(self) -> str:
        message = self.queue.receive()
        if message is None:
            return "worker: queue empty"
        roll = self.rng.random()
        providers = dict(self.providers)
        how = ""
        if roll < 0.15:  # the message's visibility lapsed: another worker has it at the same time
            second: list[str] = []
            providers = {
                name: Interleaved(provider, lambda: second.append(self._attempt(message, self.providers)))
                for name, provider in self.providers.items()
            }
            how = " (a second worker at once: {})"
            result = self._attempt(message, providers)
            how = how.format(second[0] if second else "did not reach the provider")
        elif roll < 0.25:
            providers = {name: DiesAfterTransfer(p, self.table) for name, p in self.providers.items()}
            result = self._attempt(message, providers)
            how = " (died after the transfer)"
        else:
            result = self._attempt(message, providers)
        if result not in {status.value for status in PayoutStatus}:
            self.queue.give_back(message)
        return f"worker {message.payout_id} #{message.receives}: {result}{how}"

    def requeue_failed(self) -> str:
        for payout_id in sorted(self.payout_ids):
            payout = self.payouts.get(CORP, payout_id)
            if payout is not None and payout.status is PayoutStatus.FAILED and not payout.unresolved:
                self._maybe_fault_table()
                try:
                    actions.requeue(self.payouts, self.queue, CORP, payout_id, self.now, "sim")
                except (Throttled, CrashedAfterWrite, Conflict, ConcurrentModification):
                    return f"requeue {payout_id} interrupted"
                return f"requeued {payout_id}"
        return "requeue: nothing failed"

    def reconcile(self) -> str:
        self.advance(timedelta(minutes=15))
        self._maybe_fault_table()
        try:
            result = reconciler.reconcile(self.payouts, lambda corp: self.providers, self.queue, self.now)
        except (Throttled, CrashedAfterWrite, ConcurrentModification) as fault:
            return f"reconcile interrupted ({type(fault).__name__})"
        return f"reconciled {result}"

    def notify(self) -> str:
        """WeChat Pay delivers one result notification: once, twice, later, or never."""
        outbox = self.books.outbox
        if not outbox:
            return "notify: nothing to deliver"
        notice = outbox.pop(self.rng.randrange(len(outbox)))
        roll = self.rng.random()
        if roll < 0.1:
            return f"notification {notice.state} of {notice.out_bill_no} lost"
        if roll < 0.2:
            outbox.append(notice)
            return f"notification {notice.state} of {notice.out_bill_no} comes later"
        outcome = self.deliver_notice(notice, faulty=True)
        if self.rng.random() < 0.15:
            outbox.append(notice)
            outcome += "; it will be delivered twice"
        return f"notification {notice.state} of {notice.out_bill_no}: {outcome}"

    def deliver_notice(self, notice: Notice, *, faulty: bool) -> str:
        """What the notification handler does with it (signed anew, as each delivery is); an
        interrupted delivery is answered 5xx and WeChat Pay sends it again."""
        assert self.notify_keys is not None
        signed = self.books.signed(notice)
        if faulty:
            self._maybe_fault_table()
        try:
            opened = open_notice(signed.headers, signed.body, self.notify_keys, self.now.timestamp())
            assert opened is not None
            payout = pipeline.apply_transfer_notice(
                self.payouts,
                CORP,
                opened.out_bill_no,
                opened.result(),
                amount_fen=opened.transfer_amount,
                openid=opened.openid,
                now=self.now,
            )
        except INTERRUPTIONS as fault:
            self.books.outbox.append(notice)
            return f"interrupted ({type(fault).__name__}), sent again later"
        return f"delivered, payout {payout.status.value}"

    def top_up(self) -> str:
        self.books.merchants[MCH_ID].balance_fen += 10**8
        return "merchant topped up"

    OPERATIONS: tuple[tuple[str, int], ...] = (
        ("credit", 5),
        ("reverse", 2),
        ("clawback", 1),
        ("settle", 3),
        ("request_payout", 4),
        ("provider_fault", 2),
        ("work", 9),
        ("requeue_failed", 1),
        ("reconcile", 1),
        ("top_up", 1),
        ("guide_behavior", 4),
        ("notify", 3),
    )

    def step(self) -> str:
        names = [name for name, weight in self.OPERATIONS for _ in range(weight)]
        names += [f"affiliate:{name}" for name, weight in affiliate_side.OPERATIONS for _ in range(weight)]
        name = self.rng.choice(names)
        if name.startswith("affiliate:"):
            line = str(getattr(affiliate_side, name.removeprefix("affiliate:"))(self))
        else:
            line = str(getattr(self, name)())
        return line + self.subsidy_step() + timed_levels.step(self)

    def subsidy_step(self) -> str:
        """Now and then a WeChat Store event as well, drawn from the subsidy side's own random
        stream, so the other operations keep the mix (and the seeds) they had."""
        assert self.subsidy_rng is not None
        if self.subsidy_rng.random() >= subsidy_side.CHANCE:
            return ""
        main, self.rng = self.rng, self.subsidy_rng
        try:
            names = [name for name, weight in subsidy_side.OPERATIONS for _ in range(weight)]
            return "; " + str(getattr(subsidy_side, self.rng.choice(names))(self))
        finally:
            self.rng = main

    def drain(self) -> None:
        """No more faults: every event once more, then a month passes in which every hold comes
        due and every payout is worked until paid."""
        self.table.next_fault, self.faulty = None, False
        try:
            self._drain()
        finally:
            self.faulty = True

    def _drain(self) -> None:
        affiliate_side.drain(self)
        for event_id, (guide, at) in sorted(self.history.behaviors.items()):
            self._behavior(event_id, guide, at)
        for queue in self.books.faults.values():
            queue.clear()
        self.books.merchants[MCH_ID].balance_fen += 10**10
        for _day in range(31):  # a month of the daily settlement runs: every hold comes due
            self.advance(timedelta(days=1))
            settle_holds_past(self.ledger, self.now)
        main, self.rng = self.rng, self.subsidy_rng or self.rng
        try:
            subsidy_side.drain(self)  # every window has passed: the hourly job closes them
        finally:
            self.rng = main
        affiliate_side.assess_levels(self)  # every deal figure has come due; every assessment owed
        self.trace.append(affiliate_side.change_level_rules(self))  # once, at the first drain
        if self.timed_levels is not None:
            self.trace.append(timed_levels.change_rules(self))
        decided: set[str] = set()
        for _ in range(40):  # long enough for an ignored transfer's deadline to pass
            self.advance(timedelta(hours=1))
            affiliate_side.payees_decide(self, decided)
            self._deliver_outbox()
            reconciler.reconcile(self.payouts, lambda corp: self.providers, self.queue, self.now)
            for payout_id in sorted(self.payout_ids):
                payout = self.payouts.get(CORP, payout_id)
                if payout is not None and payout.status is PayoutStatus.FAILED and not payout.unresolved:
                    actions.requeue(self.payouts, self.queue, CORP, payout_id, self.now, "drain")
            self.queue.messages.extend(Message(m.payout_id, m.generation) for m in self.queue.dead)
            self.queue.dead.clear()
            while self.queue.messages:
                message = self.queue.receive()
                if message is None:
                    break
                try:
                    pipeline.process_payout(
                        self.payouts, self.providers, CORP, message.payout_id, message.generation, self.now
                    )
                except RetryLater:
                    self.queue.give_back(message)
                    break
            settle_holds_past(self.ledger, self.now)
            if all(self._payout(pid).status in FINAL for pid in self.payout_ids):
                return

    def _deliver_outbox(self) -> None:
        """In the drain the table no longer fails, but WeChat Pay's notifications still get lost
        (the reconciler's checks must find their outcome) or arrive twice."""
        pending, self.books.outbox[:] = list(self.books.outbox), []
        for notice in pending:
            roll = self.rng.random()
            if roll < 0.2:
                self.trace.append(f"    drain: notification {notice.state} of {notice.out_bill_no} lost")
                continue
            self.deliver_notice(notice, faulty=False)
            if roll > 0.85:
                self.trace.append(f"    drain: notification of {notice.out_bill_no} delivered twice")
                self.deliver_notice(notice, faulty=False)

    def _payout(self, payout_id: str) -> Payout:
        payout = self.payouts.get(CORP, payout_id)
        assert payout is not None
        return payout


# --- checks --------------------------------------------------------------------------------------


def ledger_invariants(world: World) -> list[str]:
    """SPEC §5: each balance is the sum of its entries; no bucket below zero but by a clawback."""
    problems = []
    for account in world.accounts:
        balance = world.ledger.balance(account)
        if balance != fold(world.ledger.entries(account)):
            problems.append(
                f"{account.owner_id}: balance {dict(balance.buckets)} is not the sum of its entries"
            )
        problems.extend(f"{account.owner_id}: {problem}" for problem in balance.violations())
    return problems


FINAL = frozenset({PayoutStatus.PAID, PayoutStatus.CANCELLED})


def everything_final(world: World) -> list[str]:
    """After the drain: every payout the product made is paid, or was a transfer its payee did not
    take and is closed (the oracle checks which, and that its reserve went back)."""
    return [
        f"{pid}: still {world._payout(pid).status.value} after the drain"
        for pid in sorted(world.payout_ids)
        if world._payout(pid).status not in FINAL
    ]


STEP_CHECKS: tuple[Invariant, ...] = (
    ledger_invariants,
    oracle.provider_books,
    oracle.settlement_after_window,
    subsidy_side.subsidy_posted_once_on_settled_orders,
)
DRAIN_CHECKS: tuple[Invariant, ...] = (
    everything_final,
    oracle.ledger_matches_history,
    oracle.level_figures_match_history,
    oracle.levels_match_history,
    oracle.timed_levels_match_history,
)


def next_midnight(now: datetime) -> datetime:
    """The next start of a local day of the merchant (Asia/Shanghai) after ``now``."""
    local = now.astimezone(oracle.TZ)
    return datetime.combine(
        local.date() + timedelta(days=1), datetime.min.time(), tzinfo=oracle.TZ
    ).astimezone(UTC)


class InvariantViolation(AssertionError):
    pass


def replay_command(seed: int) -> str:
    return f"python -m tests.simulation --seed {seed}"


def run(
    seed: int,
    steps: int = 60,
    invariants: Sequence[Invariant] = STEP_CHECKS,
    verbose: bool = False,
    rounds: int = 2,
) -> World:
    """Run one seeded world: ``rounds`` × (steps, drain); raise :class:`InvariantViolation`
    naming the seed and replay command. An unexpected error is a violation too."""
    world = World.create(seed)
    number = 0
    for _round in range(rounds):
        for _ in range(steps // rounds):
            try:
                line = world.step()
            except Exception as error:  # the product raised what no fault explains
                raise InvariantViolation(
                    _report(world, number, _and_checks(world, error, invariants))
                ) from error
            world.trace.append(f"{number:3d} {line}")
            if verbose:
                print(world.trace[-1])
            problems = [problem for check in invariants for problem in check(world)]
            if problems:
                raise InvariantViolation(_report(world, number, problems))
            number += 1
        try:
            world.drain()
        except Exception as error:
            raise InvariantViolation(_report(world, number, _and_checks(world, error, invariants))) from error
        world.trace.append(f"--- drained at {world.now.isoformat()}")
        problems = [problem for check in (*invariants, *DRAIN_CHECKS) for problem in check(world)]
        if problems:
            raise InvariantViolation(_report(world, number, problems))
    return world


def _and_checks(world: World, error: Exception, invariants: Sequence[Invariant]) -> list[str]:
    """An unexpected error, and what the checks say of the state it left."""
    problems = [f"{type(error).__name__}: {error}"]
    for check in invariants:
        try:
            problems += check(world)
        except Exception as failed:  # the report must still be made
            problems.append(f"{check.__name__} could not run: {failed}")
    return problems


def _report(world: World, step: int, problems: list[str]) -> str:
    recent = "\n".join(world.trace[-10:])
    return (
        f"seed {world.seed}, step {step}: "
        + "; ".join(problems[:8])
        + f"\nlast steps:\n{recent}\nreplay: {replay_command(world.seed)}"
    )
