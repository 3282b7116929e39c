"""The payout pipeline: create (reserve + enqueue), process (send / query), re-queue, reconcile.

Rules that keep money moving at most once:
- the payout is stored, with its ledger reservation, before anything is sent;
- ``sending`` (and the attempt count) is stored before each provider call;
- once a payout has been sent, every later attempt queries the provider first, under the
  same number, and sends again only when the provider says it has no such transfer;
- an ambiguous answer is queried at once; if still unknown, the attempt fails and the
  queue retries it later with the same number and parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from incentives.core.errors import Conflict, NotFound, RetryLater
from incentives.ledger import postings
from incentives.ledger.model import Entry
from incentives.payouts.model import (
    NOT_SENT,
    TERMINAL_STATUSES,
    Payee,
    Payout,
    PayoutStatus,
    ProviderName,
    payout_id_for,
)
from incentives.payouts.provider import Outcome, PayoutProvider, ProviderResult
from incentives.storage.payouts import PayoutRepository

STALE_AFTER = timedelta(minutes=10)


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
    repository: PayoutRepository, queue: PayoutQueue, request: PayoutRequest, now: datetime
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


def _settle_result(
    repository: PayoutRepository, payout: Payout, result: ProviderResult, now: datetime
) -> Payout:
    """Store a definite answer: paid (with its ledger entry) or failed."""
    account = payout.payee.account
    if result.outcome is Outcome.SUCCESS:
        done = payout.paid(now, result.transaction_id or "", result.paid_at)
        entry = postings.payout(
            account, payout.payout_id, payout.amount_fen, now, note=result.transaction_id or ""
        )
        repository.save(done, payout.version, [entry])
        return done
    failed = payout.failed(now, result.code or "FAILED", result.reason or "the provider refused the transfer")
    repository.save(failed, payout.version)
    return failed


def process_payout(
    repository: PayoutRepository,
    providers: Mapping[ProviderName, PayoutProvider],
    corp_id: str,
    payout_id: str,
    generation: int,
    now: datetime,
    *,
    final_attempt: bool = False,
) -> Payout:
    """One attempt of the worker. Raises ``RetryLater`` when the queue should try again.

    On the final attempt a still-unresolved payout is marked failed (with the reason) before
    raising, so a message that lands in the dead-letter queue shows as failed.
    """
    payout = repository.get(corp_id, payout_id)
    if payout is None:
        raise NotFound(f"no payout {payout_id} for {corp_id}")
    if payout.status in TERMINAL_STATUSES or payout.status is PayoutStatus.FAILED:
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
            if known.outcome in (Outcome.SUCCESS, Outcome.FAILED) and not (
                known.outcome is Outcome.FAILED and payout.status is PayoutStatus.QUEUED
            ):
                return _settle_result(repository, payout, known, now)
            if known.outcome in (Outcome.PROCESSING, Outcome.AMBIGUOUS):
                raise RetryLater(f"provider: {known.outcome.value} {known.code} {known.reason}".strip())
        sending = payout.sending(now)
        repository.save(sending, payout.version)
        result = provider.transfer(sending)
        if result.outcome is Outcome.AMBIGUOUS:
            known = provider.query(sending)
            if known.outcome is not Outcome.SUCCESS:
                raise RetryLater(f"provider: {result.code or 'no answer'} {result.reason}".strip())
            result = known
        return _settle_result(repository, sending, result, now)
    except RetryLater as error:
        if final_attempt:
            current = repository.get(corp_id, payout_id)
            if current is not None and current.status not in TERMINAL_STATUSES | {PayoutStatus.FAILED}:
                repository.save(
                    current.failed(now, "RETRIES_EXHAUSTED", f"gave up: {error.message}"), current.version
                )
        raise


def requeue(
    repository: PayoutRepository, queue: PayoutQueue, corp_id: str, payout_id: str, now: datetime, actor: str
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


def cancel(repository: PayoutRepository, corp_id: str, payout_id: str, now: datetime, actor: str) -> Payout:
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


def reconcile(
    repository: PayoutRepository,
    providers: Callable[[str], Mapping[ProviderName, PayoutProvider]],
    queue: PayoutQueue,
    now: datetime,
    stale_after: timedelta = STALE_AFTER,
) -> Reconciliation:
    """Resolve payouts left open: ``queued`` ones are queued again, ``sending`` ones queried, and
    payouts given up on while unresolved are queried until the provider says what became of them.

    Writes happen only for payouts whose state changes (SPEC §6: proportional to changes).
    """
    requeued = resolved = still_open = 0
    for payout in repository.open_since(now - stale_after):
        if payout.status is PayoutStatus.QUEUED:
            queue.send(payout.corp_id, payout.payout_id, payout.generation)
            requeued += 1
            continue
        provider = providers(payout.corp_id).get(payout.provider)
        if provider is None:
            still_open += 1
            continue
        known = provider.query(payout)
        if payout.unresolved:
            if known.outcome is Outcome.SUCCESS:
                _settle_result(repository, payout, known, now)
            elif known.outcome in (Outcome.NOT_FOUND, Outcome.FAILED):
                note = "the provider confirms no money moved; re-queue to pay"
                repository.save(payout.failed(now, NOT_SENT, note), payout.version)
            else:
                still_open += 1
                continue
            resolved += 1
        elif known.outcome in (Outcome.SUCCESS, Outcome.FAILED):
            _settle_result(repository, payout, known, now)
            resolved += 1
        elif known.outcome is Outcome.NOT_FOUND:
            queue.send(payout.corp_id, payout.payout_id, payout.generation)
            requeued += 1
        else:
            still_open += 1
    return Reconciliation(requeued, resolved, still_open)
