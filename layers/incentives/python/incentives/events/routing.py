"""Facts that arrive outside the webhook, put on the event backbone as queued messages."""

from __future__ import annotations

from datetime import datetime

from incentives.messages.internal import WeComCallbackData, WeComCallbackEvent
from incentives.messages.queued import QueuedEvent


def wecom_callback_event(callback: WeComCallbackData, identity: str, now: datetime) -> QueuedEvent:
    """A verified WeCom callback as the ``wecom.callback`` event. Its id is the message's identity
    (``wecom.callback.message_identity``), so a callback WeCom sends again counts once."""
    return QueuedEvent(
        corp_id=callback.corp_id,
        received_at=now,
        event=WeComCallbackEvent(event_id=identity, type="wecom.callback", occurred_at=now, data=callback),
    )
