"""The reconciler: payouts left open are queued or resolved with the provider, and transfers
waiting for their payee are checked, then cancelled past their deadline (see ``payouts.pipeline``
for the rules that keep money moving at most once)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from incentives.core.errors import ConcurrentModification
from incentives.payouts.model import CONFIRM_WITHIN, NOT_SENT, Payout, PayoutStatus, ProviderName
from incentives.payouts.pipeline import CHECK_EVERY, FINAL_OUTCOMES, settle_result, settles
from incentives.payouts.ports import PayoutQueue, Payouts
from incentives.payouts.provider import CancellableProvider, Outcome, PayoutProvider, ProviderResult

STALE_AFTER = timedelta(minutes=10)


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


def reconcile_open_payout(
    repository: Payouts,
    providers: Mapping[ProviderName, PayoutProvider],
    queue: PayoutQueue,
    payout: Payout,
    now: datetime,
    confirm_within: timedelta = CONFIRM_WITHIN,
) -> str:
    """Resolve one payout left open (the reconciler's unit for ``PAYOUT_OPEN``): a ``queued`` one
    is queued again, a ``sending`` one queried, one given up on while unresolved queried until the
    provider says what became of it. Returns ``requeued``, ``resolved`` or ``still_open``; a payout
    that changed meanwhile (a notification, the worker) is ``still_open``, for the next run."""
    if payout.status is PayoutStatus.QUEUED:
        queue.send(payout.corp_id, payout.payout_id, payout.generation)
        return "requeued"
    provider = providers.get(payout.provider)
    if provider is None:
        return "still_open"
    try:
        known = _with_package(provider, payout, provider.query(payout))
        if payout.unresolved:
            if settles(known):
                settle_result(repository, payout, known, now, confirm_within)
            elif known.outcome in (Outcome.NOT_FOUND, Outcome.FAILED):
                note = "the provider confirms no money moved; re-queue to pay"
                repository.save(payout.failed(now, NOT_SENT, note), payout.version)
            else:
                return "still_open"
            return "resolved"
        if settles(known):
            settle_result(repository, payout, known, now, confirm_within)
            return "resolved"
        if known.outcome is Outcome.NOT_FOUND:
            queue.send(payout.corp_id, payout.payout_id, payout.generation)
            return "requeued"
        return "still_open"
    except ConcurrentModification:
        return "still_open"


def check_waiting_payout(
    repository: Payouts,
    providers: Mapping[ProviderName, PayoutProvider],
    payout: Payout,
    now: datetime,
    stale_after: timedelta = STALE_AFTER,
) -> str:
    """Ask about one transfer waiting for its payee whose check is due (the reconciler's unit for
    ``PAYOUT_WAITING``). Returns ``resolved``, ``cancel_requested`` or ``still_open``."""
    provider = providers.get(payout.provider)
    if provider is None:
        return "still_open"
    try:
        outcome = _check_awaiting(repository, provider, payout, now, stale_after)
    except ConcurrentModification:
        return "still_open"
    return {"resolved": "resolved", "cancel": "cancel_requested"}.get(outcome, "still_open")


def reconcile(
    repository: Payouts,
    providers: Callable[[str], Mapping[ProviderName, PayoutProvider]],
    queue: PayoutQueue,
    now: datetime,
    stale_after: timedelta = STALE_AFTER,
    confirm_within: timedelta = CONFIRM_WITHIN,
) -> Reconciliation:
    """Resolve every payout left open and check every transfer whose check is due, here and now
    (no cap); the scheduled job fans the same units out (``incentives.fanout``).

    Writes happen only for payouts whose state changes or whose check was due (SPEC §6:
    proportional to changes).
    """
    counts = dict.fromkeys(("requeued", "resolved", "still_open", "cancel_requested"), 0)
    for payout in repository.open_since(now - stale_after):
        counts[
            reconcile_open_payout(repository, providers(payout.corp_id), queue, payout, now, confirm_within)
        ] += 1
    for payout in repository.awaiting_due(now):
        counts[check_waiting_payout(repository, providers(payout.corp_id), payout, now, stale_after)] += 1
    return Reconciliation(**counts)


def _check_awaiting(
    repository: Payouts,
    provider: PayoutProvider,
    payout: Payout,
    now: datetime,
    stale_after: timedelta,
) -> str:
    """Ask about a payout waiting for its payee: store a final answer, cancel it past its
    deadline, or look again later. Returns ``resolved``, ``cancel`` or ``open``."""
    known = provider.query(payout)
    if known.outcome in FINAL_OUTCOMES:
        settle_result(repository, payout, known, now)
        return "resolved"
    deadline = payout.confirm_by or now
    if known.outcome is Outcome.WAITING and now >= deadline and isinstance(provider, CancellableProvider):
        answer = provider.cancel(payout)
        if answer.outcome in FINAL_OUTCOMES:
            settle_result(repository, payout, answer, now)
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
