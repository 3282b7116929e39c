"""What a WeCom callback means for us, applied once per message identity.

Each callback is recorded under its identity with a conditional put, in the same
transaction as its effects, so WeCom's retries (and queue redeliveries) change nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from incentives.core.clock import iso_utc
from incentives.messages.internal import WeComCallbackData
from incentives.storage import keys
from incentives.storage.table import ConditionFailed, NotExists, Put, Table, Write


def callback_record(corp_id: str, identity: str, callback: WeComCallbackData, now: datetime) -> Put:
    return Put(
        {
            "pk": f"{keys.tenant(corp_id)}#WECOM_EVENT#{identity}",
            "sk": "EVENT",
            "kind": "wecom_event",
            "corp_id": corp_id,
            "event": callback.event,
            "change_type": callback.change_type,
            "user_id": callback.user_id,
            "external_user_id": callback.external_user_id,
            "fields": callback.fields,
            "received_at": iso_utc(now),
        },
        (NotExists(),),
    )


def record_once(
    table: Table,
    corp_id: str,
    identity: str,
    callback: WeComCallbackData,
    now: datetime,
    effects: list[Write] | None = None,
) -> bool:
    """Record the callback with its effects; False when it was applied before."""
    try:
        table.transact([callback_record(corp_id, identity, callback, now), *(effects or [])])
    except ConditionFailed as failure:
        if 0 in failure.failed:
            return False
        raise
    return True
