"""What the APIs show of a payout (money in fen, times in RFC 3339 UTC)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from incentives.core.clock import iso_utc
from incentives.payouts.model import Payout


class PayoutView(BaseModel):
    payout_id: str
    status: str
    amount_fen: int
    provider: str
    payee_kind: str
    payee_id: str
    payee_name: str
    source: str
    description: str
    transaction_id: str | None
    failure_code: str | None
    failure_reason: str | None
    attempts: int = Field(description="Provider calls made so far")
    generation: int = Field(description="1 + the number of re-queues")
    created_at: str
    updated_at: str
    paid_at: str | None
    confirm_by: str | None = Field(
        default=None, description="While awaiting_confirmation: when an unconfirmed transfer is cancelled"
    )
    history: list[str]

    @classmethod
    def of(cls, payout: Payout) -> PayoutView:
        return cls(
            payout_id=payout.payout_id,
            status=payout.status.value,
            amount_fen=payout.amount_fen,
            provider=payout.provider.value,
            payee_kind=payout.payee.account.owner_kind.value,
            payee_id=payout.payee.account.owner_id,
            payee_name=payout.payee.name,
            source=payout.source,
            description=payout.description,
            transaction_id=payout.transaction_id,
            failure_code=payout.failure_code,
            failure_reason=payout.failure_reason,
            attempts=payout.sends,
            generation=payout.generation,
            created_at=iso_utc(payout.created_at),
            updated_at=iso_utc(payout.updated_at),
            paid_at=iso_utc(payout.paid_at) if payout.paid_at else None,
            confirm_by=iso_utc(payout.confirm_by) if payout.confirm_by else None,
            history=list(payout.history),
        )


class PayoutPage(BaseModel):
    items: list[PayoutView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at the end")
