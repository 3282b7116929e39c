"""Seed 000 "Incentive records" (overview, filters, payment status) and the mini program's
earnings ("their earnings for the current month", total earnings)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from incentives.core.clock import iso_utc, parse_instant
from incentives.guides.ports import GuideRepository, PayoutLookup, Record, RewardQuery
from incentives.guides.rules import month_of
from incentives.org.ports import ADMIN, Viewer
from incentives.payouts.model import Payout, payout_id_for


class RewardRecord(BaseModel):
    reward_id: str
    guide_id: str
    guide_name: str
    outlet_id: str
    rule_id: str
    rule_name: str
    version: int
    behavior: str
    source_event_id: str
    customer_id: str
    amount_fen: int
    payment_method: str
    status: str = Field(
        description="recorded (offline); pending, paying, paid or failed (online); carried: below WeCom "
        "Pay's minimum, paid with the guide's next online reward"
    )
    carried_in_fen: int = Field(
        default=0, description="Earlier carried rewards paid together with this one (its payment is the sum)"
    )
    transaction_id: str | None
    failure_reason: str | None
    created_at: str
    paid_at: str | None


PAYOUT_TO_RECORD = {
    "queued": "pending",
    "sending": "paying",
    "paid": "paid",
    "failed": "failed",
    "recorded": "recorded",
    "cancelled": "cancelled",
}
EARNED = ("paid", "recorded")


PAYOUT_BATCH = 100
"""Rewards whose payouts are read in one round trip (DynamoDB's BatchGetItem takes 100 keys)."""


def _payout_id(corp_id: str, item: Record) -> str:
    return payout_id_for(corp_id, f"reward:{item['reward_id']}")


def _with_payouts(items: list[Record], payouts: PayoutLookup, corp_id: str) -> list[RewardRecord]:
    """Records of ``items`` (rewards), the payouts of each batch of them read in one round trip."""
    done: list[RewardRecord] = []
    for start in range(0, len(items), PAYOUT_BATCH):
        batch = items[start : start + PAYOUT_BATCH]
        wanted = [(corp_id, _payout_id(corp_id, item)) for item in batch if not item.get("carried")]
        found = {payout.payout_id: payout for payout in payouts.get_many(wanted)} if wanted else {}
        done += [_record(item, found.get(_payout_id(corp_id, item))) for item in batch]
    return done


def _record(item: Record, payout: Payout | None) -> RewardRecord:
    if item.get("carried"):
        payout = None
    status = (
        "carried" if item.get("carried") else PAYOUT_TO_RECORD[payout.status.value] if payout else "pending"
    )
    return RewardRecord(
        reward_id=item["reward_id"],
        guide_id=item["guide_id"],
        guide_name=item.get("guide_name", ""),
        outlet_id=item.get("outlet_id", ""),
        rule_id=item["rule_id"],
        rule_name=item["rule_name"],
        version=int(item["version"]),
        behavior=item["behavior"],
        source_event_id=item["source_event_id"],
        customer_id=item["customer_id"],
        amount_fen=int(item["amount_fen"]),
        payment_method=item["payment_method"],
        status=status,
        carried_in_fen=int(item.get("carried_in_fen", 0)),
        transaction_id=payout.transaction_id if payout else None,
        failure_reason=payout.failure_reason if payout else None,
        created_at=item["created_at"],
        paid_at=iso_utc(payout.paid_at) if payout and payout.paid_at else None,
    )


@dataclass(frozen=True)
class RecordQuery:
    """What a reward listing shows: one guide's or the caller's scope, of an outlet, a rule, a
    behavior, a status, created between two instants (the index's key condition), paid between
    two others. ``only_guide`` is the guide who asks (their own partition, no scope check)."""

    guide_id: str | None = None
    outlet_id: str | None = None
    rule_id: str | None = None
    behavior: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    paid_since: datetime | None = None
    paid_until: datetime | None = None
    only_guide: str | None = None

    def keeps(self, principal: Viewer, item: Record) -> bool:
        """The filters on the reward itself, applied as the index is read."""
        if self.only_guide is None and not principal.sees_department_path(item.get("dept_path", [])):
            return False
        return not (
            (self.guide_id and item["guide_id"] != self.guide_id)
            or (self.outlet_id and item.get("outlet_id") != self.outlet_id)
            or (self.rule_id and item["rule_id"] != self.rule_id)
            or (self.behavior and item["behavior"] != self.behavior)
        )

    def paid_keeps(self, record: RewardRecord) -> bool:
        """The filters on the reward's payment, applied once the page's payouts are read."""
        paid = parse_instant(record.paid_at) if record.paid_at else None
        return not (
            (self.status and record.status != self.status)
            or (self.paid_since and (paid is None or paid < self.paid_since))
            or (self.paid_until and (paid is None or paid > self.paid_until))
        )


READ_BUDGET = 2_000
"""Rewards read at most for one page when its payment filters drop most (then a short page and a
cursor that goes on)."""


def records_page(
    repo: GuideRepository,
    payouts: PayoutLookup,
    principal: Viewer,
    query: RecordQuery,
    limit: int,
    cursor: str | None,
) -> tuple[list[RewardRecord], str | None]:
    """A page of reward records newest first through the index (one guide's partition, or the
    tenant's shards merged), the creation bounds in its key condition, the reward's own filters and
    the caller's scope as it is read, the payouts of each batch read together; reads on while
    the payment filters leave the page short. ``cursor`` continues the previous page."""
    corp_id, read = principal.corp_id, 0
    found: list[RewardRecord] = []
    guide = query.only_guide or query.guide_id
    since, until = (iso_utc(t) if t else None for t in (query.since, query.until))
    while True:
        wanted = RewardQuery(
            limit - len(found), cursor, since, until, lambda item: query.keeps(principal, item)
        )
        page = repo.rewards_page(corp_id, guide, wanted)
        read += len(page.rewards)
        found += [r for r in _with_payouts(page.rewards, payouts, corp_id) if query.paid_keeps(r)]
        cursor = page.cursor
        if cursor is None or len(found) >= limit or read >= READ_BUDGET:
            return found, cursor


def every_record(
    repo: GuideRepository, payouts: PayoutLookup, principal: Viewer, query: RecordQuery, page: int = 500
) -> Iterator[RewardRecord]:
    """Every match newest first, read page by page (one page in memory): the export, the overview."""
    cursor: str | None = None
    while True:
        found, cursor = records_page(repo, payouts, principal, query, page, cursor)
        yield from found
        if cursor is None:
            return


def maintained_overview(
    repo: GuideRepository, principal: Viewer, query: RecordQuery
) -> dict[str, Any] | None:
    """:func:`overview` from the maintained counters, without reading the records, for whole UTC
    days of creation (from at 00:00:00.000Z, to at 23:59:59.999Z): a guide's counters with
    ``guide_id`` (of one outlet with ``outlet_id``), an outlet's with ``outlet_id``, else the
    tenant's for an admin, the outlets' in their scope for an operator (the department tree as it
    is now). ``None`` for anything else (a rule, behavior, status or payment filter)."""
    filters = (query.rule_id, query.behavior, query.status, query.only_guide)
    if query.paid_since or query.paid_until or any(filters):
        return None
    days = []
    for bound, time_of_day in ((query.since, "T00:00:00.000Z"), (query.until, "T23:59:59.999Z")):
        if bound is not None and iso_utc(bound)[10:] != time_of_day:
            return None
        days.append(iso_utc(bound)[:10] if bound is not None else None)
    corp_id, first, last = principal.corp_id, days[0], days[1]
    scope: set[str] | None = None  # an admin's: every outlet
    if principal.role != ADMIN:
        paths = repo.outlet_paths(corp_id)
        scope = {outlet for outlet, path in paths.items() if principal.sees_department_path(path)}
    if query.guide_id:
        outlet, guide = query.outlet_id, query.guide_id

        def kept(at: str) -> bool:
            return (outlet is None or at == outlet) and (scope is None or at in scope)

        totals = repo.guide_totals(corp_id, guide, first, last, kept)
    elif query.outlet_id:
        wanted = [query.outlet_id] if scope is None or query.outlet_id in scope else []
        totals = repo.outlet_totals(corp_id, wanted, first, last)
    elif scope is not None:
        totals = repo.outlet_totals(corp_id, sorted(scope), first, last)
    else:
        totals = repo.reward_totals(corp_id, first, last)
    names = {rule.rule_id: rule.name for rule in repo.rules(corp_id)}
    per_rule: dict[str, int] = totals["paid_by_rule_fen"]
    return {
        "total_paid_fen": totals["paid_fen"],
        "paid_by_rule_fen": per_rule,
        "rule_names": {rule_id: names.get(rule_id, rule_id) for rule_id in per_rule},
        "carried_fen": totals["carried_fen"],
        "records": totals["records"],
    }


def overview(found: Iterable[RewardRecord]) -> dict[str, Any]:
    """Total paid, and paid per rule (seed 000's "incentive amount"), keyed by rule id: a renamed
    rule keeps one total and two rules of one name keep two. Per rule, each paid or recorded
    reward counts its own amount; rewards carried below WeCom Pay's minimum are in
    ``carried_fen``, and the payment they are carried into counts them in ``total_paid_fen``."""
    per_rule: dict[str, int] = {}
    names: dict[str, str] = {}
    total = carried_fen = count = 0
    for record in found:  # once: ``found`` may be a generator over the listing's pages
        count += 1
        if record.status == "carried":
            carried_fen += record.amount_fen
        if record.status not in EARNED:
            continue
        total += record.amount_fen + record.carried_in_fen
        per_rule[record.rule_id] = per_rule.get(record.rule_id, 0) + record.amount_fen
        names.setdefault(record.rule_id, record.rule_name)  # newest first: the name it has now
    return {
        "total_paid_fen": total,
        "paid_by_rule_fen": per_rule,
        "rule_names": names,
        "carried_fen": carried_fen,
        "records": count,
    }


class Earnings(BaseModel):
    """A guide's earnings as the mini program shows them: paid (or recorded) rewards, each with
    the carried rewards paid along with it, counted in the month (local time) it was granted."""

    this_month_fen: int
    total_fen: int


def maintained_earnings(
    repo: GuideRepository, corp_id: str, guide_id: str, now: datetime, time_zone: str
) -> Earnings:
    """A guide's :class:`Earnings` from their counters per month of creation (the merchant's time
    zone, the month the grant counted its rule's limit in), without reading the rewards."""
    months = repo.month_earnings(corp_id, guide_id)
    return Earnings(this_month_fen=months.get(month_of(now, time_zone), 0), total_fen=sum(months.values()))


def carried(repo: GuideRepository, corp_id: str, guide_id: str) -> int:
    """Rewards too small to pay alone online, waiting for the guide's next online payment."""
    return repo.carried(corp_id, guide_id)
