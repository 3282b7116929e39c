"""Which affiliate a customer is bound to, and when (SPEC §4.4 "Binding"), pure.

A binding is never edited in place: the customer's accepted clicks are kept and the binding
periods are folded from them in click-time order. The answer therefore does not depend on
the order in which clicks arrive, and "the binding at payment time" is a lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from incentives.affiliates.program import BindingMode

MAX_CLICKS_KEPT = 200
"""A customer's first click and their latest ones are kept; older middle ones no longer matter."""


@dataclass(frozen=True)
class Click:
    affiliate_id: str
    at: datetime


@dataclass(frozen=True)
class Period:
    """The customer belongs to ``affiliate_id`` from ``start`` until ``end`` (exclusive; None = open)."""

    affiliate_id: str
    start: datetime
    end: datetime | None = None

    def covers(self, at: datetime) -> bool:
        return self.start <= at and (self.end is None or at < self.end)


def periods(clicks: Iterable[Click], mode: BindingMode, days: int | None = None) -> list[Period]:
    """Fold clicks (in time order) into binding periods under ``mode``.

    - permanent: the first click binds for good;
    - override: a click on another affiliate's link moves the customer to them;
    - expiring: a binding lasts ``days`` from its click (a click on the same affiliate's link
      renews it); once it has lapsed, the next click binds afresh.
    """
    span = timedelta(days=days or 0)
    found: list[Period] = []
    for click in sorted(clicks, key=lambda c: (c.at, c.affiliate_id)):
        current = found[-1] if found and found[-1].covers(click.at) else None
        if current is None:
            found.append(Period(click.affiliate_id, click.at, click.at + span if days else None))
        elif mode is BindingMode.OVERRIDE and click.affiliate_id != current.affiliate_id:
            found[-1] = replace(current, end=click.at)
            found.append(Period(click.affiliate_id, click.at))
        elif mode is BindingMode.EXPIRING and click.affiliate_id == current.affiliate_id:
            found[-1] = replace(current, end=click.at + span)
    return found


def bound_at(clicks: Iterable[Click], mode: BindingMode, days: int | None, at: datetime) -> str | None:
    """The affiliate the customer is bound to at ``at``, if any."""
    for period in reversed(periods(clicks, mode, days)):
        if period.covers(at):
            return period.affiliate_id
    return None


def upline_chain(affiliate_id: str, upline_of: Mapping[str, str | None], limit: int = 64) -> list[str]:
    """``affiliate_id`` and every affiliate above it in the invite chain, nearest first."""
    chain = [affiliate_id]
    while len(chain) < limit:
        above = upline_of.get(chain[-1])
        if not above or above in chain:
            break
        chain.append(above)
    return chain


def refuse_binding(customer_id: str, affiliate_chain: Sequence[str]) -> str | None:
    """Why a customer may not be bound to the first affiliate of ``affiliate_chain`` (None if allowed).

    Never to oneself, and never below oneself: a customer who is an affiliate cannot become
    the customer of someone they (directly or not) invited, which would close a loop.
    """
    if affiliate_chain and affiliate_chain[0] == customer_id:
        return "an affiliate cannot be bound to themself"
    if customer_id in affiliate_chain:
        return "binding would create a loop in the invite chain"
    return None


def keep(clicks: Sequence[Click]) -> list[Click]:
    """The clicks worth keeping: the first one and the latest ``MAX_CLICKS_KEPT - 1``."""
    ordered = sorted(clicks, key=lambda c: (c.at, c.affiliate_id))
    if len(ordered) <= MAX_CLICKS_KEPT:
        return ordered
    return [ordered[0], *ordered[-(MAX_CLICKS_KEPT - 1) :]]
