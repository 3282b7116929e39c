"""The payout pipeline: process (send / query) and store the provider's answer, by the worker,
the provider's notification or the reconciler.

Creation is ``payouts.creation``, operator actions ``payouts.actions``, the reconciler
``payouts.reconciler``.

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

from collections.abc import Mapping
from datetime import datetime, timedelta

from incentives.core.errors import ConcurrentModification, Conflict, InvalidInput, NotFound, RetryLater
from incentives.ledger import postings
from incentives.payouts.model import (
    CONFIRM_WITHIN,
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    Payout,
    PayoutStatus,
    ProviderName,
)
from incentives.payouts.ports import Payouts
from incentives.payouts.provider import Outcome, PayoutProvider, ProviderResult

CHECK_EVERY = timedelta(hours=1)
"""How often the reconciler asks about a transfer waiting for its payee (a notification lost)."""
FINAL_OUTCOMES = frozenset({Outcome.SUCCESS, Outcome.FAILED, Outcome.CANCELLED})


def settles(result: ProviderResult) -> bool:
    """A definite answer the pipeline can store: final, or waiting with what the payee needs."""
    return result.outcome in FINAL_OUTCOMES or (
        result.outcome is Outcome.WAITING and result.confirmation is not None
    )


def settle_result(
    repository: Payouts,
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
    repository: Payouts,
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
            if settles(known) and not (
                known.outcome is Outcome.FAILED and payout.status is PayoutStatus.QUEUED
            ):
                return settle_result(repository, payout, known, now, confirm_within)
            if known.outcome in (Outcome.PROCESSING, Outcome.AMBIGUOUS):
                raise RetryLater(f"provider: {known.outcome.value} {known.code} {known.reason}".strip())
            # NOT_FOUND: send. WAITING without the payee's package: the same number and body
            # again make nothing new and bring the package back.
        sending = payout.sending(now)
        repository.save(sending, payout.version)
        result = provider.transfer(sending)
        if result.outcome is Outcome.AMBIGUOUS:
            known = provider.query(sending)
            if not settles(known):
                raise RetryLater(f"provider: {result.code or 'no answer'} {result.reason}".strip())
            result = known
        if result.outcome is Outcome.WAITING and result.confirmation is None:
            raise RetryLater("the bill waits for the payee; the next attempt fetches its package")
        return settle_result(repository, sending, result, now, confirm_within)
    except RetryLater as error:
        if final_attempt:
            current = repository.get(corp_id, payout_id)
            if current is not None and current.status in OPEN_STATUSES:
                repository.save(
                    current.failed(now, "RETRIES_EXHAUSTED", f"gave up: {error.message}"), current.version
                )
        raise


def apply_transfer_notice(
    repository: Payouts,
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
            return settle_result(repository, payout, result, now)
        except ConcurrentModification:
            continue
    raise ConcurrentModification(f"payout {payout_id} keeps changing; send the notification again")
