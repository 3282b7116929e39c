"""A fixed cost of the embedded SQS per message received, removed without changing results.

moto's ``ReceiveMessage`` checks each message it hands out against the queue's retention period
by building the queue's whole attribute map (every attribute, with the counts of visible,
delayed and in-flight messages, each of which walks the queue's messages and reads the clock)
and keeping one entry of it. So receiving ten messages walked the queue some thirty times.
Here the check reads the queue's retention period directly: the same number the attribute map
holds (moto fills ``MessageRetentionPeriod`` from ``Queue.message_retention_period``), compared
in the same way.
"""

from __future__ import annotations

from moto.core.utils import unix_time
from moto.sqs.models import Message, SQSBackend

_PATCHED = "_incentives_fast_sqs"


def _is_message_valid_based_on_retention_period(self: SQSBackend, queue_name: str, message: Message) -> bool:
    retention_period = int(self.get_queue(queue_name).message_retention_period)  # type: ignore[attr-defined]
    return bool(retention_period + message.sent_timestamp / 1000 > unix_time())  # type: ignore[operator]


def install() -> None:
    """Patch moto's SQS once per process (idempotent)."""
    if getattr(SQSBackend, _PATCHED, False):
        return
    SQSBackend.is_message_valid_based_on_retention_period = _is_message_valid_based_on_retention_period  # type: ignore[method-assign]
    setattr(SQSBackend, _PATCHED, True)
