"""The WeChat Store connector's adapters, built once per container (its composition root).

Kept apart from ``runtime.wiring`` so the connector's functions load only what they use.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from incentives.runtime import wiring
from incentives.runtime.secrets import SecretPurpose, tenant_secret

if TYPE_CHECKING:
    from incentives.storage.wechat_store import TableStoreRecords
    from incentives.wechat_store.client import StoreClient
    from incentives.wechat_store.ports import SubsidyExpectations
    from incentives.wechat_store.push import StoreCredentials
    from incentives.wechat_store.sync import SyncPorts

PRODUCTION_BASE_URL = "https://api.weixin.qq.com"


def base_url() -> str:
    return os.environ.get("WECHAT_STORE_BASE_URL") or PRODUCTION_BASE_URL


def records() -> TableStoreRecords:
    from incentives.storage.wechat_store import TableStoreRecords

    return TableStoreRecords(wiring.table())


def push_credentials(corp_id: str) -> StoreCredentials:
    """What the push route needs (``wechat-store-push``); an unknown tenant is refused like a bad
    signature."""
    from incentives.core.errors import Unauthenticated
    from incentives.wechat_store.push import StoreCredentials

    values = tenant_secret(corp_id, SecretPurpose.WECHAT_STORE_PUSH)
    appid, token, key = values.get("appid"), values.get("token"), values.get("encoding_aes_key")
    if not appid or not token or not key:
        raise Unauthenticated(f"no WeChat Store push secrets for corp {corp_id}", field="corp_id")
    return StoreCredentials(str(appid), str(token), str(key))


def store_client(corp_id: str) -> StoreClient:
    """The tenant's WeChat Store API client (``wechat-store``: ``appid``, ``secret``)."""
    from incentives.core.clock import SystemClock
    from incentives.core.errors import InvalidInput
    from incentives.storage.tokens import TableTokenCache
    from incentives.wechat_store.client import StoreClient

    values = tenant_secret(corp_id, SecretPurpose.WECHAT_STORE)
    appid, secret = values.get("appid"), values.get("secret")
    if not appid or not secret:
        raise InvalidInput(
            f"the WeChat Store is not configured for {corp_id} (wechat_store appid, secret)", field="corp_id"
        )
    return StoreClient(
        str(appid),
        str(secret),
        TableTokenCache(wiring.table()),
        SystemClock(),
        tenant=corp_id,
        base_url=base_url(),
    )


def store_id(corp_id: str) -> str:
    """The store id our orders carry for the tenant's WeChat Store: ``wechat-store-<appid>``."""
    return f"wechat-store-{store_client(corp_id).appid}"


class QueueSink:
    """Emits the connector's events as the merchant webhook does: kept raw (same body per id), then queued."""

    def emit(self, corp_id: str, events: Sequence[Any], received_at: datetime) -> None:
        from incentives.messages.queued import QueuedEvent
        from incentives.webhook.ports import RawEvent

        for event in events:
            body = json.dumps(
                event.model_dump(mode="json"), ensure_ascii=False, sort_keys=True, separators=(",", ":")
            )
            wiring.raw_event_store().keep(
                RawEvent(
                    corp_id=corp_id,
                    event_id=event.event_id,
                    event_type=event.type,
                    body=body,
                    body_sha256=hashlib.sha256(body.encode()).hexdigest(),
                    received_at=received_at,
                )
            )
            wiring.event_queue().send([QueuedEvent(corp_id=corp_id, received_at=received_at, event=event)])


def sync_ports() -> SyncPorts:
    from incentives.wechat_store.sync import SyncPorts

    return SyncPorts(api_for=store_client, records=records(), sink=QueueSink(), store_id_for=store_id)


def subsidy_expectations() -> SubsidyExpectations | None:
    """The subsidy ledger's read side (``SubsidyExpectations``) over this table: what the plan
    expects per order, which the reconciliation compares with what the store charged."""
    return wiring.subsidy_repository()


def queue_url() -> str:
    """The store-work queue (one message per push, consumed by the sync function)."""
    return os.environ.get("WECHAT_STORE_QUEUE_URL", "")
