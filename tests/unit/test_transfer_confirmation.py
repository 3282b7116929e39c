"""WeChat Pay transfers the payee confirms: signed answers, the result notification, and the
payout states around them (SPEC §4.7), against the payments sandbox's books in-process."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from incentives.core.errors import Conflict, InvalidInput, PayloadTooLarge, RetryLater, Unauthenticated
from incentives.ledger import postings
from incentives.ledger.model import Account, Bucket, OwnerKind
from incentives.payouts import creation, pipeline, reconciler
from incentives.payouts.model import Payee, Payout, PayoutStatus, ProviderName
from incentives.payouts.provider import Outcome
from incentives.payouts.wechat_notify import NotifyKeys, open_notice
from incentives.payouts.wechat_transfer import WeChatTransfer, WeChatTransferConfig
from incentives.storage.ledger import LedgerRepository
from incentives.storage.memory_table import MemoryTable
from incentives.storage.payouts import PayoutRepository
from infra.local.sandboxes.payments import Merchant, Notice, PaymentsSandbox, public_pem_of

CORP = "ww-1"
MCH_ID = "1900000109"
APPID = "wxd930ea5d5a258f4f"
KEY_ID = "PUB_KEY_ID_0119000001092026000000000000000001"
API_V3_KEY = "0123456789abcdef0123456789abcdef"
START = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
AFFILIATE = Account(CORP, OwnerKind.AFFILIATE, "aff-1")


@cache
def _pem(name: str) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


class Queue:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, int]] = []

    def send(self, corp_id: str, payout_id: str, generation: int) -> None:
        self.sent.append((corp_id, payout_id, generation))


@dataclass
class World:
    """A tenant, its ledger and payouts in memory, WeChat Pay played by the sandbox's books."""

    books: PaymentsSandbox
    provider: WeChatTransfer
    payouts: PayoutRepository
    ledger: LedgerRepository
    queue: Queue
    keys: NotifyKeys
    now: datetime = START

    def tick(self, delta: timedelta) -> None:
        self.now += delta

    def payout(self, amount_fen: int = 3_000, source: str = "withdrawal:w1") -> Payout:
        credit = f"credit:{source}"
        self.ledger.credit(postings.credit(AFFILIATE, credit, amount_fen, self.now), hold_until=self.now)
        hold = self.ledger.hold(AFFILIATE, credit)
        assert hold is not None
        self.ledger.settle(hold, postings.settlement(hold, self.now), self.now)
        request = creation.PayoutRequest(
            source, Payee(AFFILIATE, "openid-aff-1"), amount_fen, ProviderName.WECHAT_TRANSFER, "佣金提现"
        )
        return creation.create_payout(self.payouts, self.queue, request, self.now)

    def work(self, payout: Payout) -> Payout:
        return pipeline.process_payout(
            self.payouts, {ProviderName.WECHAT_TRANSFER: self.provider}, CORP, payout.payout_id, 1, self.now
        )

    def reconcile(self) -> reconciler.Reconciliation:
        return reconciler.reconcile(
            self.payouts, lambda corp: {ProviderName.WECHAT_TRANSFER: self.provider}, self.queue, self.now
        )

    def deliver(self, notice: Notice) -> Payout:
        opened = open_notice(notice.headers, notice.body, self.keys, self.now.timestamp())
        assert opened is not None
        return pipeline.apply_transfer_notice(
            self.payouts,
            CORP,
            opened.out_bill_no,
            opened.result(),
            amount_fen=opened.transfer_amount,
            openid=opened.openid,
            now=self.now,
        )

    def get(self, payout: Payout) -> Payout:
        found = self.payouts.get(CORP, payout.payout_id)
        assert found is not None
        return found

    def balance(self) -> dict[Bucket, int]:
        return dict(self.ledger.balance(AFFILIATE).buckets)


@pytest.fixture
def world() -> World:
    table = MemoryTable()
    merchant = Merchant(
        MCH_ID,
        "k" * 32,
        "pay-secret",
        v3_public_key_pem=public_pem_of(_pem("merchant")),
        api_v3_key=API_V3_KEY,
    )
    clock: list[World] = []
    books = PaymentsSandbox(
        {MCH_ID: merchant},
        timeout_delay_seconds=10,
        clock=lambda: clock[0].now.timestamp(),
        platform_key_pem=_pem("wechatpay"),
        platform_key_id=KEY_ID,
    )
    config = WeChatTransferConfig(
        MCH_ID,
        APPID,
        "SERIAL",
        _pem("merchant"),
        base_url="sandbox://",
        notify_url="https://incentives.example.com/payments/wechat/notify/ww-1",
        wechatpay_public_key_pem=public_pem_of(_pem("wechatpay")),
        wechatpay_public_key_id=KEY_ID,
        api_v3_key=API_V3_KEY,
    )
    provider = WeChatTransfer(config, books.in_process_v3(), clock=lambda: clock[0].now.timestamp())
    keys = NotifyKeys(MCH_ID, config.wechatpay_public_key_pem, KEY_ID, API_V3_KEY)
    made = World(books, provider, PayoutRepository(table), LedgerRepository(table), Queue(), keys)
    clock.append(made)
    return made


def _waiting(world: World, amount_fen: int = 3_000, source: str = "withdrawal:w1") -> Payout:
    payout = world.work(world.payout(amount_fen, source))
    assert payout.status is PayoutStatus.AWAITING_CONFIRMATION
    return payout


def _confirm(world: World, payout: Payout) -> Notice:
    assert payout.confirmation is not None
    status, _ = world.books.payee_acts(
        payout.payout_id,
        "confirm",
        {
            "package": payout.confirmation.package_info,
            "mch_id": payout.confirmation.mch_id,
            "app_id": payout.confirmation.app_id,
        },
    )
    assert status == 200
    return world.books.outbox.pop()


# --- answers are verified ---------------------------------------------------------------------------


def test_a_verified_waiting_answer_carries_what_the_payee_needs(world: World) -> None:
    payout = world.payout()
    result = world.provider.transfer(payout.sending(world.now))
    assert result.outcome is Outcome.WAITING and result.transaction_id
    assert result.confirmation is not None
    assert (result.confirmation.mch_id, result.confirmation.app_id) == (MCH_ID, APPID)
    assert result.confirmation.package_info == world.books.bill(payout.payout_id)["package_info"]  # type: ignore[index]


def test_an_answer_signed_by_another_key_is_ambiguous_and_never_acted_upon(world: World) -> None:
    payout = world.payout()
    world.books.platform_key_pem = _pem("impostor")
    result = world.provider.transfer(payout.sending(world.now))
    assert (result.outcome, result.code) == (Outcome.AMBIGUOUS, "UNVERIFIED")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda status, body, headers: (status, body.replace(b"WAIT_USER_CONFIRM", b"SUCCESS"), headers),
        lambda status, body, headers: (status, body, {**headers, "Wechatpay-Serial": "PUB_KEY_ID_OTHER"}),
        lambda status, body, headers: (status, body, {**headers, "Wechatpay-Timestamp": "1000000000"}),
        lambda status, body, headers: (
            status,
            body,
            {k: v for k, v in headers.items() if "Signature" not in k},
        ),
        lambda status, body, headers: (status, body, {**headers, "Wechatpay-Signature": "bm90IGJhc2U2NA=="}),
    ],
    ids=["forged success", "other key id", "stale", "unsigned", "bad signature"],
)
def test_a_tampered_answer_is_unverified(world: World, tamper: Any) -> None:
    payout = world.payout()
    honest = world.books.in_process_v3()
    forged = WeChatTransfer(
        world.provider._config,
        lambda *request: tamper(*honest(*request)),
        clock=lambda: world.now.timestamp(),
    )
    result = forged.transfer(payout.sending(world.now))
    assert (result.outcome, result.code) == (Outcome.AMBIGUOUS, "UNVERIFIED")


# --- the payout waits, then the payee decides --------------------------------------------------------


def test_a_waiting_transfer_stores_the_package_and_a_deadline(world: World) -> None:
    payout = _waiting(world)
    assert payout.confirm_by == START + timedelta(hours=24)
    assert payout.check_at == START + timedelta(hours=1)
    assert payout.transaction_id == world.books.bill(payout.payout_id)["transfer_bill_no"]  # type: ignore[index]
    assert world.books.transfers_made() == []
    assert world.balance()[Bucket.RESERVED] == 3_000


def test_the_deadline_is_configurable(world: World) -> None:
    payout = world.payout()
    waiting = pipeline.process_payout(
        world.payouts,
        {ProviderName.WECHAT_TRANSFER: world.provider},
        CORP,
        payout.payout_id,
        1,
        world.now,
        confirm_within=timedelta(hours=2),
    )
    assert waiting.confirm_by == START + timedelta(hours=2) and waiting.check_at == START + timedelta(hours=1)


def test_a_redelivered_message_leaves_a_waiting_payout_alone(world: World) -> None:
    payout = _waiting(world)
    calls = dict(world.books.calls)
    again = world.work(payout)
    assert again == world.get(payout) and again.version == payout.version
    assert world.books.calls == calls


def test_the_confirmation_notification_pays_exactly_once(world: World) -> None:
    payout = _waiting(world)
    notice = _confirm(world, payout)
    paid = world.deliver(notice)
    assert paid.status is PayoutStatus.PAID and paid.transaction_id == payout.transaction_id
    assert world.deliver(notice).version == paid.version  # the same notification again: nothing
    balance = world.balance()
    assert balance[Bucket.PAID] == 3_000 and balance[Bucket.RESERVED] == 0
    assert [entry.kind.value for entry in world.ledger.entries(AFFILIATE)].count("payout") == 1
    assert len(world.books.transfers_made()) == 1


def test_a_decline_cancels_the_payout_and_releases_its_reserve(world: World) -> None:
    payout = _waiting(world)
    assert world.books.payee_acts(payout.payout_id, "decline")[0] == 200
    closed = world.deliver(world.books.outbox.pop())
    assert closed.status is PayoutStatus.CANCELLED and closed.failure_code == "CANCELLED"
    balance = world.balance()
    assert balance[Bucket.SETTLED] == 3_000 and balance[Bucket.RESERVED] == 0 and balance[Bucket.PAID] == 0


def test_a_failure_at_confirmation_fails_the_payout_with_its_reason(world: World) -> None:
    payout = _waiting(world)
    world.books.payee_acts(payout.payout_id, "fail", {"reason": "ACCOUNT_FROZEN"})
    failed = world.deliver(world.books.outbox.pop())
    assert (failed.status, failed.failure_code) == (PayoutStatus.FAILED, "ACCOUNT_FROZEN")
    assert world.balance()[Bucket.RESERVED] == 3_000  # still owed: the operator re-queues or cancels


def test_a_notification_contradicting_a_final_state_is_refused(world: World) -> None:
    payout = _waiting(world)
    paid = world.deliver(_confirm(world, payout))
    cancelled = replace(paid, status=PayoutStatus.CANCELLED)
    world.payouts.save(cancelled, paid.version)
    notice = world.books.last_notice[payout.payout_id]
    with pytest.raises(Conflict):
        world.deliver(world.books.notify_again(payout.payout_id) or notice)


def test_a_notification_that_does_not_match_the_payout_changes_nothing(world: World) -> None:
    payout = _waiting(world)
    _confirm(world, payout)
    opened = open_notice(
        world.books.last_notice[payout.payout_id].headers,
        world.books.last_notice[payout.payout_id].body,
        world.keys,
        world.now.timestamp(),
    )
    assert opened is not None
    for amount, openid in ((opened.transfer_amount + 1, opened.openid), (opened.transfer_amount, "o-other")):
        with pytest.raises(InvalidInput):
            pipeline.apply_transfer_notice(
                world.payouts,
                CORP,
                payout.payout_id,
                opened.result(),
                amount_fen=amount,
                openid=openid,
                now=world.now,
            )
    assert world.get(payout).status is PayoutStatus.AWAITING_CONFIRMATION


# --- the reconciler ----------------------------------------------------------------------------------


def test_a_lost_notification_is_found_by_the_reconcilers_check(world: World) -> None:
    payout = _waiting(world)
    _confirm(world, payout)  # the notification is lost
    world.tick(timedelta(minutes=30))
    assert world.reconcile().resolved == 0  # not due yet
    world.tick(timedelta(minutes=31))
    assert world.reconcile().resolved == 1
    assert world.get(payout).status is PayoutStatus.PAID and world.balance()[Bucket.PAID] == 3_000


def test_an_unconfirmed_transfer_is_cancelled_after_its_deadline_and_released(world: World) -> None:
    world.books.close_unconfirmed_after_seconds = 30 * 3600  # WeChat Pay's own close may come later
    payout = _waiting(world)
    for _hour in range(23):
        world.tick(timedelta(hours=1))
        assert world.reconcile().cancel_requested == 0
    assert world.get(payout).status is PayoutStatus.AWAITING_CONFIRMATION
    world.tick(timedelta(hours=1))
    assert world.reconcile().cancel_requested == 1
    assert world.books.bill(payout.payout_id)["state"] == "CANCELLED"  # type: ignore[index]
    closed = world.deliver(world.books.outbox.pop())
    assert closed.status is PayoutStatus.CANCELLED and world.balance()[Bucket.SETTLED] == 3_000
    world.tick(timedelta(minutes=15))
    assert world.reconcile() == reconciler.Reconciliation()  # nothing left to look at


def test_a_bill_wechat_pay_closed_itself_is_found_closed_by_the_check(world: World) -> None:
    payout = _waiting(world)
    world.tick(timedelta(hours=24))
    assert world.reconcile() == reconciler.Reconciliation(resolved=1)
    assert world.get(payout).status is PayoutStatus.CANCELLED and world.balance()[Bucket.SETTLED] == 3_000


def test_without_the_notification_the_cancelled_outcome_comes_from_the_next_check(world: World) -> None:
    world.books.close_unconfirmed_after_seconds = 30 * 3600
    payout = _waiting(world)
    world.tick(timedelta(hours=25))
    world.reconcile()
    world.books.outbox.clear()  # lost
    world.tick(timedelta(minutes=11))
    assert world.reconcile().resolved == 1
    assert world.get(payout).status is PayoutStatus.CANCELLED
    assert world.balance()[Bucket.RESERVED] == 0


def test_a_waiting_bill_found_by_a_query_is_sent_again_for_its_package(world: World) -> None:
    payout = world.payout()
    world.books.add_faults("transfer", ["timeout"])  # the bill is made, the answer lost
    world.books.add_faults("transfer_query", ["SYSTEMERROR"])
    with pytest.raises(RetryLater):
        world.work(payout)
    waiting = world.work(payout)  # query: WAIT_USER_CONFIRM without package → same number again
    assert waiting.status is PayoutStatus.AWAITING_CONFIRMATION and waiting.confirmation is not None
    assert {number for _, number in world.books.numbers_seen} == {payout.payout_id}
    assert len(world.books.transfers) == 1


# --- notifications are verified --------------------------------------------------------------------


def _notice(world: World) -> Notice:
    return _confirm(world, _waiting(world))


def test_a_notification_opens_to_the_bill(world: World) -> None:
    notice = _notice(world)
    opened = open_notice(notice.headers, notice.body, world.keys, world.now.timestamp())
    assert opened is not None
    assert (opened.state, opened.transfer_amount, opened.openid, opened.mch_id) == (
        "SUCCESS",
        3_000,
        "openid-aff-1",
        MCH_ID,
    )


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda n: (n.headers, n.body.replace(b"mch_payment", b"mch_paymenu")), Unauthenticated),
        (lambda n: ({**n.headers, "Wechatpay-Serial": "PUB_KEY_ID_OTHER"}, n.body), Unauthenticated),
        (lambda n: ({**n.headers, "Wechatpay-Signature": "AAAA"}, n.body), Unauthenticated),
        (lambda n: ({k: v for k, v in n.headers.items() if k != "Wechatpay-Nonce"}, n.body), Unauthenticated),
        (lambda n: (n.headers, n.body + b" " * 70_000), PayloadTooLarge),
    ],
    ids=["tampered body", "other key", "bad signature", "no nonce", "too large"],
)
def test_a_forged_notification_is_refused(world: World, change: Any, error: type[Exception]) -> None:
    headers, body = change(_notice(world))
    with pytest.raises(error):
        open_notice(headers, body, world.keys, world.now.timestamp())


def test_a_notification_outside_the_time_window_is_refused(world: World) -> None:
    notice = _notice(world)
    with pytest.raises(Unauthenticated, match="window"):
        open_notice(notice.headers, notice.body, world.keys, world.now.timestamp() + 301)


def test_a_notification_that_does_not_decrypt_is_invalid(world: World) -> None:
    notice = _notice(world)
    with pytest.raises(InvalidInput, match="decrypt"):
        open_notice(
            notice.headers, notice.body, replace(world.keys, api_v3_key="f" * 32), world.now.timestamp()
        )


def test_a_bill_of_another_merchant_is_invalid(world: World) -> None:
    notice = _notice(world)
    with pytest.raises(InvalidInput, match="another merchant"):
        open_notice(
            notice.headers, notice.body, replace(world.keys, mch_id="1900000999"), world.now.timestamp()
        )


def test_another_kind_of_event_is_acknowledged_without_effect(world: World) -> None:
    document = json.loads(_notice(world).body)
    document["event_type"] = "MCHTRANSFER.BILL.OTHER"
    body = json.dumps(document).encode()
    assert open_notice(world.books._signed_headers(body), body, world.keys, world.now.timestamp()) is None
