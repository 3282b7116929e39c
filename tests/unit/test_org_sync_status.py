"""An operator is never left looking at a sync "running" for ever: a sync that stops on an error
of ours says so on its status, and one whose run ended without a word (a timeout, a lost
container) is shown as interrupted once no run could still be going."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incentives.core.clock import iso_utc
from incentives.org.ports import OrgChanges
from incentives.org.service import SyncState, sync_organization, sync_status
from incentives.org.sync_status import RUN_LIMIT, SyncStatus, put_status
from incentives.storage.memory_table import MemoryTable
from incentives.storage.org import TableOrgRepository
from incentives.wecom.client import WeComClient
from incentives.wecom.crypto import CallbackCrypto
from infra.local.sandboxes.wecom import WeComSandbox
from tests.support.wecom import sandbox_client

CORP = "ww-1"
NOW = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)


class Throttled(RuntimeError):
    """Stands for any error of ours while writing (the table refusing, a bug)."""


class FailingWrites(TableOrgRepository):
    def apply(self, corp_id: str, changes: OrgChanges) -> None:
        raise Throttled("the table refused the write")


def _client(sandbox: WeComSandbox) -> WeComClient:
    return sandbox_client(sandbox, CORP, NOW)


def test_a_sync_stopped_by_an_error_of_ours_is_failed_on_its_status_and_the_error_raised() -> None:
    sandbox = WeComSandbox(CORP, "app-secret", CallbackCrypto("t", "a" * 43, CORP), "http://127.0.0.1:9/cb")
    repo = FailingWrites(MemoryTable())
    with pytest.raises(Throttled):
        sync_organization(repo, _client(sandbox), NOW)
    status = sync_status(repo, CORP)
    assert status.state is SyncState.FAILED and status.outcome == "failed"
    assert status.failure is not None and status.failure["code"] == "internal_error"
    assert "Throttled" in status.failure["message"]


def _running_since(started: datetime) -> TableOrgRepository:
    repo = TableOrgRepository(MemoryTable())
    put_status(
        repo, CORP, SyncStatus(state=SyncState.RUNNING, started_at=iso_utc(started), progress="started")
    )
    return repo


def test_a_sync_running_longer_than_any_run_can_last_is_shown_interrupted() -> None:
    repo = _running_since(NOW - RUN_LIMIT - timedelta(seconds=1))
    shown = sync_status(repo, CORP, NOW)
    assert shown.state is SyncState.FAILED and shown.failure is not None
    assert shown.failure["code"] == "interrupted"
    assert sync_status(repo, CORP).state is SyncState.RUNNING  # shown so, not written


def test_a_sync_within_the_run_limit_is_still_running() -> None:
    repo = _running_since(NOW - RUN_LIMIT + timedelta(seconds=1))
    assert sync_status(repo, CORP, NOW).state is SyncState.RUNNING
