"""The organization sync as operators follow it: queued, running (with the stage reached),
finished or failed (with what WeCom answered)."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from incentives.core.clock import iso_utc, parse_instant
from incentives.core.errors import DomainError
from incentives.org.ports import OrgRepository


class SyncState(StrEnum):
    IDLE = "idle"
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


class SyncStatus(BaseModel):
    """The tenant's organization sync as an operator follows it (``GET /admin/org/sync``)."""

    state: SyncState = SyncState.IDLE
    requested_at: str | None = Field(default=None, description="When an admin last asked for a sync")
    requested_by: str | None = None
    started_at: str | None = None
    progress: str | None = Field(default=None, description="The last stage reached")
    finished_at: str | None = None
    last_attempt_at: str | None = None
    last_success_at: str | None = None
    outcome: str | None = Field(default=None, description="ok | failed, of the last attempt")
    failures_in_a_row: int = 0
    failure: dict[str, Any] | None = Field(default=None, description="What WeCom answered, when it failed")
    result: dict[str, int] | None = Field(default=None, description="Counts of the last successful sync")


RUN_LIMIT = timedelta(minutes=15)
"""The longest a sync can run: Lambda's limit for the function that runs it. A sync still
"running" after it was stopped without a word (its function timed out or its container died)."""


class SyncStopped(DomainError):
    """The sync stopped on an error of ours, not WeCom's (recorded on the status, then raised)."""

    code = "internal_error"


def sync_status(repo: OrgRepository, corp_id: str, now: datetime | None = None) -> SyncStatus:
    """The stored status; seen at ``now``, a sync "running" for longer than any run can last is
    shown as failed (``interrupted``): nothing else would ever say it stopped."""
    stored = repo.sync_status(corp_id)
    status = SyncStatus.model_validate({k: v for k, v in stored.items() if k in SyncStatus.model_fields})
    if (
        now is not None
        and status.state is SyncState.RUNNING
        and status.started_at
        and parse_instant(status.started_at) + RUN_LIMIT < now
    ):
        return status.model_copy(
            update={
                "state": SyncState.FAILED,
                "outcome": "failed",
                "failure": {
                    "code": "interrupted",
                    "message": f"the sync started at {status.started_at} stopped before it finished "
                    "(its run ended without a word); the next sync repairs whatever it left half done",
                },
            }
        )
    return status


def put_status(repo: OrgRepository, corp_id: str, status: SyncStatus) -> SyncStatus:
    repo.save_sync_status(corp_id, status.model_dump(mode="json", exclude_none=True))
    return status


def request_sync(repo: OrgRepository, corp_id: str, requested_by: str, now: datetime) -> SyncStatus:
    """Mark a manual sync as queued; the caller sends the request to the background worker."""
    status = sync_status(repo, corp_id).model_copy(
        update={"state": SyncState.QUEUED, "requested_at": iso_utc(now), "requested_by": requested_by}
    )
    return put_status(repo, corp_id, status)


def record_outcome(
    repo: OrgRepository,
    corp_id: str,
    now: datetime,
    failure: DomainError | None,
    result: dict[str, int] | None,
) -> None:
    """Keep the last attempt's outcome: when, the last success, and what WeCom answered if it failed."""
    previous = sync_status(repo, corp_id)
    update: dict[str, Any] = {
        "state": SyncState.FAILED if failure else SyncState.FINISHED,
        "finished_at": iso_utc(now),
        "last_attempt_at": iso_utc(now),
        "outcome": "failed" if failure else "ok",
        "failures_in_a_row": previous.failures_in_a_row + 1 if failure else 0,
        "failure": {"code": failure.code, "message": failure.message, **failure.details()}
        if failure
        else None,
    }
    if result is not None:
        update.update(last_success_at=iso_utc(now), result=result)
    put_status(repo, corp_id, previous.model_copy(update=update))
