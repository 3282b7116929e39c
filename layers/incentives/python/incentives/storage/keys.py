"""Every key of the single table, in one place (docs/data-model.md mirrors this file).

Every partition key starts with the tenant (``T#<corp_id>``) so no query can cross tenants;
the only cross-tenant access is the scheduled jobs' sharded due index (``storage/due.py``),
which carries the tenant in its sort key and hands each entry back to that tenant's aggregate.
"""

from __future__ import annotations


def tenant(corp_id: str) -> str:
    return f"T#{corp_id}"


def order_key(corp_id: str, order_id: str) -> dict[str, str]:
    return {"pk": f"{tenant(corp_id)}#ORDER#{order_id}", "sk": "STATE"}


def raw_event_key(corp_id: str, event_id: str) -> dict[str, str]:
    return {"pk": f"{tenant(corp_id)}#EVENT#{event_id}", "sk": "RAW"}


def customer_key(corp_id: str, customer_id: str) -> dict[str, str]:
    """A customer (their WeChat unionid) and their binding to a guide and an outlet."""
    return {"pk": f"{tenant(corp_id)}#CUSTOMER#{customer_id}", "sk": "CUSTOMER"}


def contact_way_key(corp_id: str, state: str) -> dict[str, str]:
    """A Contact-Me QR code, by the ``state`` its scans carry."""
    return {"pk": f"{tenant(corp_id)}#CONTACT_WAY#{state}", "sk": "CONTACT_WAY"}


def external_key(corp_id: str, external_user_id: str) -> dict[str, str]:
    """WeCom's external userid → our customer id."""
    return {"pk": f"{tenant(corp_id)}#EXTERNAL#{external_user_id}", "sk": "EXTERNAL"}


def outlet_customers_key(corp_id: str, outlet_id: str) -> dict[str, str]:
    """How many customers an outlet has (active bindings), kept apart from the synchronised outlet."""
    return {"pk": f"{tenant(corp_id)}#OUTLET_CUSTOMERS#{outlet_id}", "sk": "COUNT"}
