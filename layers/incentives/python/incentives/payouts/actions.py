"""What an operator does to a failed payout: send it again, or give up on it."""

from __future__ import annotations

from datetime import datetime

from incentives.core.errors import Conflict, NotFound
from incentives.ledger import postings
from incentives.payouts.model import Payout, PayoutStatus
from incentives.payouts.ports import PayoutQueue, Payouts


def requeue(
    repository: Payouts, queue: PayoutQueue, corp_id: str, payout_id: str, now: datetime, actor: str
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


def cancel(repository: Payouts, corp_id: str, payout_id: str, now: datetime, actor: str) -> Payout:
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
