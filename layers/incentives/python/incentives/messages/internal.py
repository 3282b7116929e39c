"""Internal events: facts the product makes for itself and puts on the inbound events queue.

They travel like the merchant's events (an :class:`~incentives.webhook.models.Envelope` with a
type and data) but are no part of the webhook contract: ``POST /webhooks/orders`` refuses them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StrictInt

from incentives.webhook.models import MAX_UNIX_SECONDS, Contract, Envelope, Identifier


class AfterSalesWindowClosed(Contract):
    """Internal: the after-sales window of a completed order has passed (emitted by the hourly job)."""

    order_id: Identifier
    closed_at: AwareDatetime


class WeComCallbackData(Contract):
    """Internal: a verified, decrypted WeCom callback (see ``incentives.wecom.callback``)."""

    corp_id: Identifier
    msg_type: str
    event: str = ""
    change_type: str = ""
    create_time: Annotated[StrictInt, Field(ge=0, le=MAX_UNIX_SECONDS)] = 0
    user_id: str = ""
    external_user_id: str = ""
    state: str = ""
    welcome_code: str = ""
    fail_reason: str = ""
    party_id: str = ""
    fields: dict[str, str] = {}


class GuideAcquiredCustomer(Contract):
    """Internal: a guide added a customer on WeCom; ``new_customer`` if never attached before."""

    customer_id: Identifier
    external_user_id: str
    guide_id: str
    outlet_id: str = ""
    new_customer: bool
    acquired_at: AwareDatetime


class OrgSyncRequested(Contract):
    """Internal: an admin asked for a full organization sync (``POST /admin/org/sync``)."""

    requested_by: str
    requested_at: AwareDatetime


class AfterSalesWindowClosedEvent(Envelope):
    type: Literal["order.after_sales_window_closed"]
    data: AfterSalesWindowClosed


class WeComCallbackEvent(Envelope):
    type: Literal["wecom.callback"]
    data: WeComCallbackData


class GuideAcquiredCustomerEvent(Envelope):
    type: Literal["guide.customer_acquired"]
    data: GuideAcquiredCustomer


class OrgSyncRequestedEvent(Envelope):
    type: Literal["org.sync_requested"]
    data: OrgSyncRequested


InternalEvent = (
    AfterSalesWindowClosedEvent | WeComCallbackEvent | GuideAcquiredCustomerEvent | OrgSyncRequestedEvent
)
"""Every internal event; a new one is one envelope added here."""
