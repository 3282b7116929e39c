"""What the subsidy area needs from storage, and what it offers for reconciliation.

``SubsidyExpectation`` and ``SubsidyExpectations`` are the read port the WeChat Store connector
reconciles against (what the platform should have charged and granted per order); the
repository in ``incentives.storage.subsidy`` implements both protocols here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol

from incentives.ledger.model import Entry
from incentives.subsidy.campaign import Campaign
from incentives.subsidy.case import SubsidyCase

ExpectationState = Literal["provisional", "final", "clawed_back"]


@dataclass(frozen=True)
class SubsidyExpectation:
    """What the platform should charge and grant for one order (rates in ppm: 1 % = 10 000)."""

    corp_id: str
    order_id: str
    campaign_id: str | None
    scene: str | None
    """The winning scene kind, or None when the order is not in the plan."""
    in_plan: bool
    settled_fen: int
    standard_rate_ppm: int
    expected_rate_ppm: int
    expected_fee_fen: int
    fee_saving_fen: int
    growth_card_fen: int
    card_recipient: str | None
    state: ExpectationState
    evidence: tuple[str, ...]


class SubsidyExpectations(Protocol):
    def expectation(self, corp_id: str, order_id: str) -> SubsidyExpectation | None:
        """The order's expectation, or None when the order has no subsidy case."""
        ...

    def expectations_for_day(self, corp_id: str, day: date) -> Iterable[SubsidyExpectation]:
        """Every case of orders paid on ``day`` (merchant time)."""
        ...


class SubsidyRepository(Protocol):
    def campaigns(self, corp_id: str) -> list[Campaign]:
        """Every campaign of the tenant."""
        ...

    def case(self, corp_id: str, order_id: str) -> SubsidyCase | None: ...

    def save_case(self, case: SubsidyCase, expected_version: int, entries: Sequence[Entry] = ()) -> None:
        """Store ``case`` and post ``entries`` to the ledger in one transaction, if the stored
        version is still ``expected_version``; raise ``ConcurrentModification`` otherwise."""
        ...
