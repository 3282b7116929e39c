"""The payout pipeline: create (reserve + enqueue), process (send / query), re-queue, reconcile.

Rules that keep money moving at most once:
- the payout is stored, with its ledger reservation, before anything is sent;
- ``sending`` (and the attempt count) is stored before each provider call;
- once a payout has been sent, every later attempt queries the provider first, under the
  same number, and sends again only when the provider says it has no such transfer;
- an ambiguous answer is queried at once; if still unknown, the attempt fails and the
  queue retries it later with the same number and parameters;
- a transfer that waits for its payee (WeChat Pay ``WAIT_USER_CONFIRM``) is stored
  ``awaiting_confirmation`` with what the payee needs; from then on only the provider's word
  moves it (the result notification, or the reconciler's query), and the reconciler cancels it
  once its deadline has passed. It is paid only out of its reserve; a bill closed unpaid
  releases the reserve.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from incentives.core.errors import ConcurrentModification, Conflict, InvalidInput, NotFound, RetryLater
from incentives.ledger import postings
from incentives.ledger.model import Entry
from incentives.payouts.model import (
    CONFIRM_WITHIN,
    NOT_SENT,
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    Payee,
    Payout,
    PayoutStatus,
    ProviderName,
    payout_id_for,
)
from incentives.payouts.ports import PayoutStore
from incentives.payouts.provider import CancellableProvider, Outcome, PayoutProvider, ProviderResult

STALE_AFTER = timedelta(minutes=10)
CHECK_EVERY = timedelta(hours=1)
"""How often the reconciler asks about a transfer waiting for its payee (a notification lost)."""
FINAL_OUTCOMES = frozenset({Outcome.SUCCESS, Outcome.FAILED, Outcome.CANCELLED})


class PayoutQueue(Protocol):
    def send(self, corp_id: str, payout_id: str, generation: int) -> None: ...


@dataclass(frozen=True)
class PayoutRequest:
    source: str
    """The cause, unique per tenant: ``reward:<id>`` or ``withdrawal:<id>``."""
    payee: Payee
    amount_fen: int
    provider: ProviderName
    description: str


def new_payout(request: PayoutRequest, now: datetime) -> tuple[Payout, list[Entry]]:
    """The payout for ``request`` and its ledger entries (reserve; offline also paid), not yet stored."""
    if request.amount_fen <= 0:
        raise ValueError("a payout amount is positive")
    payout_id = payout_id_for(request.payee.account.corp_id, request.source)
    account = request.payee.account
    offline = request.provider is ProviderName.OFFLINE
    payout = Payout(
        payout_id=payout_id,
        payee=request.payee,
        amount_fen=request.amount_fen,
        provider=request.provider,
        source=request.source,
        description=request.description,
        status=PayoutStatus.RECORDED if offline else PayoutStatus.QUEUED,
        created_at=now,
        updated_at=now,
        transaction_id=f"offline-{payout_id}" if offline else None,
        paid_at=now if offline else None,
        history=(f"{now.isoformat()} created {'recorded' if offline else 'queued'}",),
    )
    entries = [postings.reserve(account, payout_id, request.amount_fen, now)]
    if offline:
        entries.append(postings.payout(account, payout_id, request.amount_fen, now, note="recorded offline"))
    return payout, entries


def create_payout(
    repository: PayoutStore, queue: PayoutQueue, request: PayoutRequest, now: datetime
) -> Payout:
    """Create the payout for ``request`` once; a repeat returns the existing payout.

    Online payouts reserve the amount and are queued; offline ones are recorded as paid at
    once (no money moves through us). A crash before the queue send is repaired by the
    reconciler, which re-queues payouts left ``queued``.
    """
    payout, entries = new_payout(request, now)
    if not repository.create(payout, entries):
        existing = repository.get(payout.corp_id, payout.payout_id)
        if existing is None:
            raise RetryLater(f"payout {payout.payout_id} is being created")
        return existing
    if payout.status is PayoutStatus.QUEUED:
        queue.send(payout.corp_id, payout.payout_id, payout.generation)
    return payout


def _settles(result: ProviderResult) -> bool:
    """A definite answer the pipeline can store: final, or waiting with what the payee needs."""
    return result.outcome in FINAL_OUTCOMES or (
        result.outcome is Outcome.WAITING and result.confirmation is not None
    )


def _settle_result(
    repository: PayoutStore,
    payout: Payout,
    result: ProviderResult,
    now: datetime,
    confirm_within: timedelta = CONFIRM_WITHIN,
) -> Payout:
    """Store a definite answer: paid (with its ledger entry), waiting for the payee, closed
    unpaid (with the release of its reserve) or failed."""
    account = payout.payee.account
    if result.outcome is Outcome.SUCCESS:
        done = payout.paid(now, result.transaction_id or "", result.paid_at)
        entry = postings.payout(
            account, payout.payout_id, payout.amount_fen, now, note=result.transaction_id or ""
        )
        repository.save(done, payout.version, [entry])
        return done
    if result.outcome is Outcome.WAITING:
        if result.confirmation is None:
            raise ValueError("a waiting transfer is stored only with what the payee needs to confirm it")
        confirm_by = now + confirm_within
        waiting = payout.awaiting(
            now,
            result.transaction_id or "",
            result.confirmation,
            confirm_by,
            min(confirm_by, now + CHECK_EVERY),
        )
        repository.save(waiting, payout.version)
        return waiting
    if result.outcome is Outcome.CANCELLED:
        closed = payout.closed_unpaid(now, result.code or "CANCELLED", result.reason or "closed unpaid")
        release = postings.release(account, payout.payout_id, payout.amount_fen, now)
        repository.save(closed, payout.version, [release])
        return closed
    failed = payout.failed(now, result.code or "FAILED", result.reason or "the provider refused the transfer")
    repository.save(failed, payout.version)
    return failed


def process_payout(
    repository: PayoutStore,
    providers: Mapping[ProviderName, PayoutProvider],
    corp_id: str,
    payout_id: str,
    generation: int,
    now: datetime,
    *,
    final_attempt: bool = False,
    confirm_within: timedelta = CONFIRM_WITHIN,
) -> Payout:
    """One attempt of the worker. Raises ``RetryLater`` when the queue should try again.

    On the final attempt a still-unresolved payout is marked failed (with the reason) before
    raising, so a message that lands in the dead-letter queue shows as failed. A payout waiting
    for its payee is left alone: the payee's move reaches us by notification or query.
    """
    payout = repository.get(corp_id, payout_id)
    if payout is None:
        raise NotFound(f"no payout {payout_id} for {corp_id}")
    if payout.status in TERMINAL_STATUSES or payout.status in (
        PayoutStatus.FAILED,
        PayoutStatus.AWAITING_CONFIRMATION,
    ):
        return payout
    if generation != payout.generation:
        return payout  # a message from before a re-queue
    provider = providers.get(payout.provider)
    if provider is None:
        failed = payout.failed(now, "PROVIDER_NOT_CONFIGURED", f"{payout.provider.value} is not configured")
        repository.save(failed, payout.version)
        return failed
    try:
        if payout.sends > 0:
            known = provider.query(payout)
            if _settles(known) and not (
                known.outcome is Outcome.FAILED and payout.status is PayoutStatus.QUEUED
            ):
                return _settle_result(repository, payout, known, now, confirm_within)
            if known.outcome in (Outcome.PROCESSING, Outcome.AMBIGUOUS):
                raise RetryLater(f"provider: {known.outcome.value} {known.code} {known.reason}".strip())
            # NOT_FOUND: send. WAITING without the payee's package: the same number and body
            # again make nothing new and bring the package back.
        sending = payout.sending(now)
        repository.save(sending, payout.version)
        result = provider.transfer(sending)
        if result.outcome is Outcome.AMBIGUOUS:
            known = provider.query(sending)
            if not _settles(known):
                raise RetryLater(f"provider: {result.code or 'no answer'} {result.reason}".strip())
            result = known
        if result.outcome is Outcome.WAITING and result.confirmation is None:
            raise RetryLater("the bill waits for the payee; the next attempt fetches its package")
        return _settle_result(repository, sending, result, now, confirm_within)
    except RetryLater as error:
        if final_attempt:
            current = repository.get(corp_id, payout_id)
            if current is not None and current.status in OPEN_STATUSES:
                repository.save(
                    current.failed(now, "RETRIES_EXHAUSTED", f"gave up: {error.message}"), current.version
                )
        raise


def apply_transfer_notice(
    repository: PayoutStore,
    corp_id: str,
    payout_id: str,
    result: ProviderResult,
    *,
    amount_fen: int,
    openid: str,
    now: datetime,
    attempts: int = 3,
) -> Payout:
    """Apply the provider's notification that a transfer ended (SUCCESS, CANCELLED or FAIL).

    Idempotent: a repeat finds the payout already there and changes nothing; a race with the
    worker or the reconciler loses on the payout's version and is read again. The notification
    must describe this payout (amount, payee), and may not contradict a final state it reached
    (paid vs closed unpaid): both are refused with nothing changed.
    """
    for _attempt in range(attempts):
        payout = repository.get(corp_id, payout_id)
        if payout is None:
            raise NotFound(f"no payout {payout_id}", field="out_bill_no")
        if payout.provider is not ProviderName.WECHAT_TRANSFER:
            raise InvalidInput(f"payout {payout_id} is not a WeChat Pay transfer", field="out_bill_no")
        if payout.amount_fen != amount_fen or payout.payee.openid != openid:
            raise InvalidInput(
                f"the notification does not match payout {payout_id} (amount or payee)",
                field="transfer_amount",
            )
        if result.outcome not in FINAL_OUTCOMES:
            return payout  # not final: the notification of the final state follows
        wanted = {
            Outcome.SUCCESS: PayoutStatus.PAID,
            Outcome.CANCELLED: PayoutStatus.CANCELLED,
            Outcome.FAILED: PayoutStatus.FAILED,
        }[result.outcome]
        if payout.status is wanted and not payout.unresolved:
            return payout  # told before
        if payout.status in TERMINAL_STATUSES:
            raise Conflict(
                f"payout {payout_id} is {payout.status.value}; the provider now says {result.outcome.value}",
                field="state",
            )
        try:
            return _settle_result(repository, payout, result, now)
        except ConcurrentModification:
            continue
    raise ConcurrentModification(f"payout {payout_id} keeps changing; send the notification again")


def requeue(
    repository: PayoutStore, queue: PayoutQueue, corp_id: str, payout_id: str, now: datetime, actor: str
) -> Payout:
    """An operator sends a failed payout again: same id, next generation."""
    payout = repository.get(corp_id, payout_id)
    if payout is None:
        raise NotFound(f"no payout {payout_id}", field="payout_id")
    if payout.status is not PayoutStatus.FAILED:
        raise Conflict(
            f"only failed payouts can be re-queued; this one is {payout.status.value}", field="status"
        )
    again = payout.requeued(now, actor)
    repository.save(again, payout.version)
    queue.send(corp_id, payout_id, again.generation)
    return again


def cancel(repository: PayoutStore, corp_id: str, payout_id: str, now: datetime, actor: str) -> Payout:
    """An operator gives up on a failed payout: its reserved amount is withdrawable again.

    Refused while the payout's fate at the provider is unknown (``RETRIES_EXHAUSTED``): the
    money may have moved, and releasing it could pay twice.
    """
    payout = repository.get(corp_id, payout_id)
    if payout is None:
        raise NotFound(f"no payout {payout_id}", field="payout_id")
    try:
        done = payout.cancelled(now, actor)
    except ValueError as refused:
        raise Conflict(str(refused), field="status") from None
    release = postings.release(payout.payee.account, payout_id, payout.amount_fen, now)
    repository.save(done, payout.version, [release])
    return done


@dataclass(frozen=True)
class Reconciliation:
    requeued: int = 0
    resolved: int = 0
    still_open: int = 0
    cancel_requested: int = 0


def _with_package(provider: PayoutProvider, payout: Payout, known: ProviderResult) -> ProviderResult:
    """A query said the bill waits for the payee but carries no package: the same number and
    body sent again make nothing new and answer with it."""
    if known.outcome is not Outcome.WAITING or known.confirmation is not None:
        return known
    again = provider.transfer(payout)
    return again if again.outcome is Outcome.WAITING and again.confirmation is not None else known


def reconcile(
    repository: PayoutStore,
    providers: Callable[[str], Mapping[ProviderName, PayoutProvider]],
    queue: PayoutQueue,
    now: datetime,
    stale_after: timedelta = STALE_AFTER,
    confirm_within: timedelta = CONFIRM_WITHIN,
) -> Reconciliation:
    """Resolve payouts left open: ``queued`` ones are queued again, ``sending`` ones queried, and
    payouts given up on while unresolved are queried until the provider says what became of them.
    Payouts waiting for their payee are queried when their check is due (a notification may have
    been lost) and cancelled at the provider once their deadline has passed.

    Writes happen only for payouts whose state changes or whose check was due (SPEC §6:
    proportional to changes). A payout that changed meanwhile (a notification) is left for the
    next run.
    """
    requeued = resolved = still_open = cancel_requested = 0
    for payout in repository.open_since(now - stale_after):
        if payout.status is PayoutStatus.QUEUED:
            queue.send(payout.corp_id, payout.payout_id, payout.generation)
            requeued += 1
            continue
        provider = providers(payout.corp_id).get(payout.provider)
        if provider is None:
            still_open += 1
            continue
        try:
            known = _with_package(provider, payout, provider.query(payout))
            if payout.unresolved:
                if _settles(known):
                    _settle_result(repository, payout, known, now, confirm_within)
                elif known.outcome in (Outcome.NOT_FOUND, Outcome.FAILED):
                    note = "the provider confirms no money moved; re-queue to pay"
                    repository.save(payout.failed(now, NOT_SENT, note), payout.version)
                else:
                    still_open += 1
                    continue
                resolved += 1
            elif _settles(known):
                _settle_result(repository, payout, known, now, confirm_within)
                resolved += 1
            elif known.outcome is Outcome.NOT_FOUND:
                queue.send(payout.corp_id, payout.payout_id, payout.generation)
                requeued += 1
            else:
                still_open += 1
        except ConcurrentModification:
            still_open += 1
    for payout in repository.awaiting_due(now):
        provider = providers(payout.corp_id).get(payout.provider)
        if provider is None:
            still_open += 1
            continue
        try:
            outcome = _check_awaiting(repository, provider, payout, now, stale_after)
        except ConcurrentModification:
            outcome = "open"
        resolved += outcome == "resolved"
        cancel_requested += outcome == "cancel"
        still_open += outcome == "open"
    return Reconciliation(requeued, resolved, still_open, cancel_requested)


def _check_awaiting(
    repository: PayoutStore,
    provider: PayoutProvider,
    payout: Payout,
    now: datetime,
    stale_after: timedelta,
) -> str:
    """Ask about a payout waiting for its payee: store a final answer, cancel it past its
    deadline, or look again later. Returns ``resolved``, ``cancel`` or ``open``."""
    known = provider.query(payout)
    if known.outcome in FINAL_OUTCOMES:
        _settle_result(repository, payout, known, now)
        return "resolved"
    deadline = payout.confirm_by or now
    if known.outcome is Outcome.WAITING and now >= deadline and isinstance(provider, CancellableProvider):
        answer = provider.cancel(payout)
        if answer.outcome in FINAL_OUTCOMES:
            _settle_result(repository, payout, answer, now)
            return "resolved"
        answered = answer.code or answer.outcome.value
        note = f"not confirmed by {deadline.isoformat()}: cancel requested ({answered})"
        repository.save(payout.checked(now, now + stale_after, note), payout.version)
        return "cancel"
    if known.outcome is Outcome.WAITING and now < deadline:
        next_check, note = min(deadline, now + CHECK_EVERY), "still waiting for the payee"
    else:
        next_check, note = now + stale_after, f"provider: {known.outcome.value} {known.code}".strip()
    repository.save(payout.checked(now, next_check, note), payout.version)
    return "open"
