"""Binding's entry points on the table; the rules are in ``affiliates.bound_customers`` and
``affiliates.binding``."""

from __future__ import annotations

from incentives.affiliates import bound_customers as _bound
from incentives.affiliates.bound_customers import MAX_ATTEMPTS, binding_source, clicks_of
from incentives.storage.affiliates import on_table

binding_at = on_table(_bound.binding_at)
bind = on_table(_bound.bind)
customers_of = on_table(_bound.customers_of)

__all__ = ["MAX_ATTEMPTS", "bind", "binding_at", "binding_source", "clicks_of", "customers_of"]
