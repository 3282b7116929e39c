"""Making a payout: the one way a payout and its ledger entries are built, stored and queued."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from incentives.core.errors import RetryLater
from incentives.ledger import postings
from incentives.ledger.model import Entry
from incentives.payouts.model import Payee, Payout, PayoutStatus, ProviderName, payout_id_for
from incentives.payouts.ports import PayoutQueue, Payouts


@dataclass(frozen=True)
class PayoutRequest:
    source: str
    """The cause, unique per tenant: ``reward:<id>`` or ``withdrawal:<id>``."""
    payee: Payee
    amount_fen: int
    provider: ProviderName
    description: str


def new_payout(
    request: PayoutRequest, now: datetime, *, reserved: bool = False, reference: str | None = None
) -> tuple[Payout, list[Entry]]:
    """The payout for ``request`` and its ledger entries, not yet stored: the one way a payout is
    made (a guide's reward, an affiliate's withdrawal approved or settled by hand, …).

    Its id is deterministic (``payout_id_for(corp, source)``), so creating it twice is detected.
    The entries reserve the amount, unless it was ``reserved`` before (a withdrawal reserves at
    its request); an offline payout is also paid at once, under ``reference`` (the operator's
    transfer number) when one is given. Callers store it with
    ``PayoutRepository.creation_write`` (alone, or in their own transaction, with the entries in
    their posting) and then :func:`enqueue` it.
    """
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
        transaction_id=(reference or f"offline-{payout_id}") if offline else None,
        paid_at=now if offline else None,
        history=(f"{now.isoformat()} created {'recorded' if offline else 'queued'}",),
    )
    entries = [] if reserved else [postings.reserve(account, payout_id, request.amount_fen, now)]
    if offline:
        note = reference or "recorded offline"
        entries.append(postings.payout(account, payout_id, request.amount_fen, now, note=note))
    return payout, entries


def enqueue(queue: PayoutQueue, payout: Payout) -> None:
    """Queue a payout just stored, if it is to be sent (an offline one is recorded, not sent).
    A crash before this is repaired by the reconciler, which re-queues payouts left ``queued``."""
    if payout.status is PayoutStatus.QUEUED:
        queue.send(payout.corp_id, payout.payout_id, payout.generation)


def create_payout(repository: Payouts, queue: PayoutQueue, request: PayoutRequest, now: datetime) -> Payout:
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
    enqueue(queue, payout)
    return payout
