"""The work a scheduled job fans out: one message per shard to read, then one per due item.

A scheduled run sends one :class:`ShardWork` per shard of each of its due queues; the function
that reads a shard sends one :class:`ItemWork` per due entry it finds (SQS batches of 10);
each item is then done by the job's "do one item" rule. Every message carries the run's clock
(``as_of``, the scheduled event's time), so a replayed or hand-fired run decides "now".
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class DueQueue(StrEnum):
    """The sharded due queues of the scheduled jobs (keys: ``incentives.storage.due``)."""

    HOLDS = "holds"
    """Credits whose hold (the after-sales window) ends: settle them (LedgerSettlementFunction)."""
    WINDOWS = "windows"
    """Completed orders whose after-sales window ends: close it (AfterSalesWindowFunction)."""
    OPEN_PAYOUTS = "open_payouts"
    """Payouts left queued, sending or unresolved (PayoutReconcilerFunction)."""
    WAITING_PAYOUTS = "waiting_payouts"
    """Transfers waiting for their payee whose next check is due (PayoutReconcilerFunction)."""
    LEVEL_DEALS = "level_deals"
    """Orders whose deal figures come due after their window (LevelAssessmentFunction)."""
    LEVEL_ASSESSMENTS = "level_assessments"
    """Affiliates owed a level assessment (LevelAssessmentFunction)."""
    LEVEL_RELEVELS = "level_relevels"
    """Tenants whose rule change or deleted level still has affiliates to mark owed an assessment,
    a page at a time (LevelAssessmentFunction)."""


class _Work(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    queue: DueQueue
    as_of: AwareDatetime
    """The run's clock: what the units take as "now"."""
    run: str = Field(min_length=1, max_length=128)
    """The scheduled event's id: which run the work belongs to."""


class ShardWork(_Work):
    """Read one shard of a due queue up to ``up_to`` and send each entry as an :class:`ItemWork`."""

    kind: Literal["shard"] = "shard"
    shard: int = Field(ge=0)
    up_to: AwareDatetime


class ItemWork(_Work):
    """Do one due entry (its index projection, as storage gave it: no re-read to find it)."""

    kind: Literal["item"] = "item"
    entry: dict[str, Any]


class WorkMessage(BaseModel):
    """The body of a message on a job's work queue."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    work: Annotated[ShardWork | ItemWork, Field(discriminator="kind")]
