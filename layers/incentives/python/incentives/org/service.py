"""The organization's use cases, where handlers and consumers import them: the sync
(:mod:`incentives.org.sync`) and its status (:mod:`incentives.org.sync_status`)."""

from __future__ import annotations

from incentives.org.contact_change import apply_contact_change
from incentives.org.sync import (
    MEMBER_PAGE_SIZE,
    SyncResult,
    run_requested_sync,
    sync_organization,
)
from incentives.org.sync_status import SyncState, SyncStatus, request_sync, sync_status

__all__ = [
    "MEMBER_PAGE_SIZE",
    "SyncResult",
    "SyncState",
    "SyncStatus",
    "apply_contact_change",
    "request_sync",
    "run_requested_sync",
    "sync_organization",
    "sync_status",
]
