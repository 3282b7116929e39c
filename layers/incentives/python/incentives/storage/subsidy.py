"""Storage of the subsidy area: campaigns, one case item per order, entries in the subsidy book.

This module alone builds the subsidy items, their index attributes and conditions (their keys
are in ``storage/keys.py``; docs/data-model.md):

- campaigns: ``T#<corp>#SUBSIDY#CAMPAIGNS`` / ``CAMPAIGN#<campaign_id>`` (one partition per tenant),
  with its ``CALENDAR`` item whose ``version`` every campaign write moves (windows never overlap);
- a case: ``T#<corp>#SUBSIDY#ORDER#<order_id>`` / ``CASE``, optimistic ``version``, the case as JSON
  in ``doc``; once its order is known ``gsi2`` = (``T#<corp>#SUBSIDY#DAY#<paid day>``, order id)
  for the day's expectations, and once attributed to a campaign ``gsi3`` =
  (``T#<corp>#SUBSIDY#CAMPAIGN#<campaign_id>``, ``<paid day>#<order id>``) for the report;
- the entries: the ledger's, in the subsidy book (``incentives.storage.ledger``), posted in the
  same transaction as the case that yields them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

from pydantic import TypeAdapter

from incentives.core.clock import iso_utc, local_date
from incentives.core.errors import ConcurrentModification, Conflict, NotFound
from incentives.ledger.model import Entry
from incentives.storage import keys
from incentives.storage.ledger import LedgerRepository
from incentives.storage.table import ConditionFailed, Equals, Item, NotExists, Put, Table, query_all
from incentives.subsidy.campaign import Campaign, CampaignTerms, campaign_for, overlapping
from incentives.subsidy.case import SubsidyCase
from incentives.subsidy.ports import SubsidyExpectation
from incentives.subsidy.views import expectation_of

_case = TypeAdapter(SubsidyCase)


def case_to_item(case: SubsidyCase, time_zone: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        **keys.subsidy_case_key(case.corp_id, case.order_id),
        "kind": "subsidy_case",
        "corp_id": case.corp_id,
        "order_id": case.order_id,
        "version": case.version,
        "state": case.state.value,
        "doc": json.dumps(_case.dump_python(case, mode="json"), separators=(",", ":"), ensure_ascii=False),
    }
    day = case.paid_day(time_zone)
    if day is not None:
        item["gsi2pk"], item["gsi2sk"] = keys.subsidy_day(case.corp_id, day), case.order_id
        if case.attribution is not None and case.attribution.campaign_id:
            item["gsi3pk"] = keys.subsidy_campaign_cases(case.corp_id, case.attribution.campaign_id)
            item["gsi3sk"] = f"{day}#{case.order_id}"
    return item


def case_from_item(item: Item) -> SubsidyCase:
    return _case.validate_python(json.loads(item["doc"]))


def campaign_from_item(item: Item) -> Campaign:
    return Campaign.model_validate_json(item["doc"])


class TableSubsidyRepository:
    """Campaigns, cases and the day's expectations over the Table port (the simulation runs it
    in memory); implements ``SubsidyRepository`` and ``SubsidyExpectations``."""

    def __init__(self, table: Table, time_zone: str) -> None:
        self._table = table
        self._time_zone = time_zone
        self._ledger = LedgerRepository(table)

    # --- campaigns -----------------------------------------------------------------------------

    def campaigns(self, corp_id: str) -> list[Campaign]:
        return self._calendar(corp_id)[0]

    def campaign(self, corp_id: str, campaign_id: str) -> Campaign:
        item = self._table.get(keys.subsidy_campaign_key(corp_id, campaign_id))
        if item is None:
            raise NotFound(f"no campaign {campaign_id}", field="campaign_id")
        return campaign_from_item(item)

    def create_campaign(
        self, corp_id: str, campaign_id: str, terms: CampaignTerms, at: datetime, by: str
    ) -> Campaign:
        """A new campaign; the same id again, or a window sharing a day with another campaign's,
        is a conflict (409)."""
        campaigns, calendar = self._calendar(corp_id)
        if any(c.campaign_id == campaign_id for c in campaigns):
            raise Conflict(f"campaign {campaign_id} exists", field="campaign_id")
        campaign = Campaign(
            **terms.model_dump(), campaign_id=campaign_id, version=1, updated_at=at, updated_by=by
        )
        self._write_campaign(corp_id, campaigns, calendar, campaign, NotExists())
        return campaign

    def update_campaign(
        self,
        corp_id: str,
        campaign_id: str,
        terms: CampaignTerms,
        expected_version: int,
        at: datetime,
        by: str,
    ) -> Campaign:
        """Replace the terms if the stored version is still ``expected_version`` (409 otherwise).
        Settled orders keep the figures they settled with; provisional ones take the new terms."""
        campaigns, calendar = self._calendar(corp_id)
        current = next((c for c in campaigns if c.campaign_id == campaign_id), None)
        if current is None:
            raise NotFound(f"no campaign {campaign_id}", field="campaign_id")
        if current.version != expected_version:
            raise Conflict(
                f"campaign {campaign_id} is at version {current.version}, not {expected_version}",
                field="version",
            )
        campaign = Campaign(
            **terms.model_dump(),
            campaign_id=campaign_id,
            version=current.version + 1,
            updated_at=at,
            updated_by=by,
        )
        self._write_campaign(corp_id, campaigns, calendar, campaign, Equals("version", current.version))
        return campaign

    def _calendar(self, corp_id: str) -> tuple[list[Campaign], int]:
        """The tenant's campaigns and its calendar's version, in one query of their partition."""
        items = query_all(self._table, keys.subsidy_campaigns(corp_id))
        calendar_sk = keys.subsidy_calendar_key(corp_id)["sk"]
        version = next((int(item["version"]) for item in items if item["sk"] == calendar_sk), 0)
        return [campaign_from_item(item) for item in items if item["sk"] != calendar_sk], version

    def _write_campaign(
        self,
        corp_id: str,
        campaigns: list[Campaign],
        calendar: int,
        campaign: Campaign,
        condition: NotExists | Equals,
    ) -> None:
        """Write ``campaign`` if no other campaign's window shares a day with it, moving the
        calendar's version in the same transaction: a concurrent campaign write that checked the
        same calendar fails its condition and answers 409."""
        clash = overlapping(campaigns, campaign.campaign_id, campaign)
        if clash is not None:
            raise Conflict(
                f"the window {campaign.starts_on}..{campaign.ends_on} overlaps campaign "
                f"{clash.campaign_id} ({clash.starts_on}..{clash.ends_on}); a shop is in one plan at a time",
                field="starts_on",
            )
        moved = Put(
            {**keys.subsidy_calendar_key(corp_id), "kind": "subsidy_calendar", "version": calendar + 1},
            (NotExists() if calendar == 0 else Equals("version", calendar),),
        )
        try:
            self._table.transact([Put(self._campaign_item(corp_id, campaign), (condition,)), moved])
        except ConditionFailed:
            raise Conflict(
                f"the campaigns changed meanwhile; read them again ({campaign.campaign_id})",
                field="version" if isinstance(condition, Equals) else "campaign_id",
            ) from None

    @staticmethod
    def _campaign_item(corp_id: str, campaign: Campaign) -> dict[str, Any]:
        return {
            **keys.subsidy_campaign_key(corp_id, campaign.campaign_id),
            "kind": "subsidy_campaign",
            "corp_id": corp_id,
            "campaign_id": campaign.campaign_id,
            "version": campaign.version,
            "updated_at": iso_utc(campaign.updated_at),
            "doc": campaign.model_dump_json(),
        }

    # --- cases ---------------------------------------------------------------------------------

    def case(self, corp_id: str, order_id: str) -> SubsidyCase | None:
        item = self._table.get(keys.subsidy_case_key(corp_id, order_id))
        return case_from_item(item) if item else None

    def save_case(self, case: SubsidyCase, expected_version: int, entries: Sequence[Entry] = ()) -> None:
        condition = NotExists() if expected_version == 0 else Equals("version", expected_version)
        put = Put(case_to_item(case, self._time_zone), (condition,))
        try:
            if entries:
                posted = self._ledger.post(list(entries), max(entry.at for entry in entries), extra=[put])
            else:
                self._table.transact([put])
                posted = True
        except ConditionFailed as failure:
            raise ConcurrentModification(f"subsidy case of {case.order_id} changed meanwhile") from failure
        if not posted:  # the entries exist: a writer that got there first posted them with its case
            raise ConcurrentModification(f"subsidy of {case.order_id} was posted meanwhile")

    def cases_of_campaign(
        self, corp_id: str, campaign_id: str, day_from: date | None = None, day_to: date | None = None
    ) -> Iterator[SubsidyCase]:
        """The campaign's cases, newest paid day first, within the days given."""
        partition = keys.subsidy_campaign_cases(corp_id, campaign_id)
        for item in query_all(self._table, partition, index="gsi3", newest_first=True):
            day = str(item["gsi3sk"]).split("#", 1)[0]
            if day_to and day > day_to.isoformat():
                continue
            if day_from and day < day_from.isoformat():
                return
            yield case_from_item(item)

    # --- the read port for reconciliation ------------------------------------------------------

    def expectation(self, corp_id: str, order_id: str) -> SubsidyExpectation | None:
        case = self.case(corp_id, order_id)
        if case is None:
            return None
        return expectation_of(case, self._campaign_of(case, self.campaigns(corp_id)))

    def expectations_for_day(self, corp_id: str, day: date) -> Iterator[SubsidyExpectation]:
        campaigns = self.campaigns(corp_id)
        for item in query_all(self._table, keys.subsidy_day(corp_id, day.isoformat()), index="gsi2"):
            case = case_from_item(item)
            found = expectation_of(case, self._campaign_of(case, campaigns))
            if found is not None:
                yield found

    def _campaign_of(self, case: SubsidyCase, campaigns: list[Campaign]) -> Campaign | None:
        if case.attribution is not None and case.attribution.campaign_id:
            return next((c for c in campaigns if c.campaign_id == case.attribution.campaign_id), None)
        if case.order is None:
            return None
        return campaign_for(campaigns, local_date(case.order.paid_at, self._time_zone))
