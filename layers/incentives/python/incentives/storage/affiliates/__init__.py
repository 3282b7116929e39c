"""The affiliates area on the single table: the only place that knows its keys, indexes and items."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Concatenate, ParamSpec, TypeVar

from incentives.affiliates.ports import AffiliateRepository
from incentives.storage.affiliates.repository import TableAffiliates
from incentives.storage.table import Table

P = ParamSpec("P")
R = TypeVar("R")


def on_table(service: Callable[Concatenate[AffiliateRepository, P], R]) -> Callable[Concatenate[Table, P], R]:
    """``service`` called with a table: the entry points handlers and consumers call, which run
    the affiliate services over :class:`TableAffiliates`."""

    @wraps(service)
    def call(table: Table, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return service(TableAffiliates(table), *args, **kwargs)

    return call


__all__ = ["TableAffiliates", "on_table"]
