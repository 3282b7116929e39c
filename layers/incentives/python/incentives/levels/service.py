"""Level use cases over :class:`incentives.levels.ports.LevelRepository`.

Figures move with their sources (orders, bindings, joinings, registrations, recharges): each
write also marks the affiliates concerned as owed an assessment, in the same transaction. The
assessment of one affiliate at one instant (:func:`assess`) is the unit of work: it follows a rule
change not yet followed (``recalculate`` / ``keep``, a deleted level), raises to the highest
automatic level met when figures moved, else makes the downgrade checks that are due, and writes
when the affiliate's level must be checked again by time alone (a cycle's end, the single check,
a counted figure leaving its window) as their next due entry. It runs right after the event where
the round-trip budget allows, and in any case from the due entries every minute
(``LevelAssessmentFunction``), which also brings deal figures in once an order's after-sales
window has ended. A crash between the two loses nothing: the assessment stays owed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING

from incentives.core.clock import DEFAULT_TIME_ZONE, local_date
from incentives.core.errors import ConcurrentModification, Conflict, InvalidInput
from incentives.levels.assessment import (
    ChangeKind,
    LevelChange,
    Trigger,
)
from incentives.levels.decision import decide, followed_rank, position_of
from incentives.levels.downgrades import Position, first_day_needed, next_check, start_of_day
from incentives.levels.metrics import (
    Contributions,
    MetricHistory,
    OrderInputs,
    affiliates_of,
    deal_pending,
    minus,
    order_contributions,
)
from incentives.levels.ports import (
    AppliedSource,
    Due,
    LevelRepository,
    Standing,
    StoredLevels,
)
from incentives.levels.rule_changes import RELEVEL_PAGE as RELEVEL_PAGE
from incentives.levels.rule_changes import delete_level as delete_level
from incentives.levels.rule_changes import relevel_all as relevel_all
from incentives.levels.rule_changes import relevel_page as relevel_page
from incentives.levels.rule_changes import rules_changed as rules_changed
from incentives.levels.rule_changes import save_settings as save_settings
from incentives.levels.settings import ChangeMode, LevelSettings

if TYPE_CHECKING:
    from incentives.orders.aggregate import OrderState
    from incentives.orders.ports import OrderRepository

MAX_ATTEMPTS = 5


def order_source(order_id: str) -> str:
    return f"order:{order_id}"


def level_rate(stored: StoredLevels | None, rank: int) -> int | None:
    """The commission rate of level ``rank`` (None: no levels, or the level has none)."""
    level = stored.settings.level(rank) if stored else None
    return level.commission_rate_bp if level else None


def current_rank(stored: StoredLevels | None, standing: Standing) -> int:
    """The standing's rank in the levels as they are numbered now: a level deleted since it was
    levelled moved the ranks above down one (its own members count at the level below) until
    its re-levelling assessment."""
    return followed_rank(stored, standing)[0] if stored is not None else standing.rank


def rank_in_force(
    repo: LevelRepository, standing: Standing, at: datetime, stored: StoredLevels | None = None
) -> int:
    """The affiliate's rank at ``at`` (a payment): the current one unless it changed since; in the
    levels as ``stored`` numbers them."""
    if standing.version <= 1 or standing.since is None or standing.since <= at:
        return current_rank(stored, standing)  # never changed (the default level), or not since ``at``
    rank, rule_version = repo.rank_at(standing.corp_id, standing.affiliate_id, at)
    return stored.renumbered(stored.numbering(rule_version), rank) if stored is not None else rank


# --- figures ----------------------------------------------------------------------------------------


SourceBuild = Callable[[AppliedSource | None], tuple[Contributions, OrderInputs | None, datetime | None]]
"""previous record → (what the source contributes now, its inputs, when figures still to come are due)."""


def apply_source(
    repo: LevelRepository, corp_id: str, source: str, build: SourceBuild, trigger: Trigger
) -> list[str]:
    """Bring a source's contributions to what ``build`` says now; returns the affiliates whose
    figures moved (each now owed an assessment). Nothing is written when nothing changed."""
    for _ in range(MAX_ATTEMPTS):
        previous = repo.source(corp_id, source)
        contributions, inputs, pending = build(previous)
        if previous is None and not contributions and pending is None:
            return []  # nothing to count: no record either
        if previous is not None and (previous.applied, previous.inputs, previous.pending_until) == (
            contributions,
            inputs,
            pending,
        ):
            return []
        target = AppliedSource(
            source, (previous.version if previous else 0) + 1, contributions, inputs, pending
        )
        try:
            repo.apply(corp_id, previous, target, trigger)
        except ConcurrentModification:
            continue
        return affiliates_of(minus(contributions, previous.applied if previous else {}))
    raise ConcurrentModification(f"figures of {source}: too many concurrent writers, retry later")


def order_inputs(
    state: OrderState,
    previous: AppliedSource | None,
    beneficiaries: Iterable[str],
    buyer_affiliate_id: str | None,
    deal_at: datetime | None,
) -> OrderInputs:
    """The order's inputs; the end of its after-sales window is fixed the first time it is known."""
    known = previous.inputs.deal_at if previous and previous.inputs else None
    return OrderInputs(
        beneficiaries=tuple(sorted(set(beneficiaries))),
        buyer_affiliate_id=buyer_affiliate_id,
        deal_at=(known or deal_at) if state.completed is not None else None,
    )


def apply_order(
    repo: LevelRepository,
    corp_id: str,
    state: OrderState,
    *,
    beneficiaries: Iterable[str],
    buyer_affiliate_id: str | None,
    deal_at: datetime | None,
    now: datetime,
    time_zone: str,
    event_id: str | None = None,
) -> list[str]:
    """Bring one order's figures in line with its state (paid, refunds, completion, window)."""
    wanted = tuple(beneficiaries)

    def build(previous: AppliedSource | None) -> tuple[Contributions, OrderInputs | None, datetime | None]:
        inputs = order_inputs(state, previous, wanted, buyer_affiliate_id, deal_at)
        return order_contributions(state, inputs, now, time_zone), inputs, deal_pending(state, inputs, now)

    source = order_source(state.order_id)
    return apply_source(repo, corp_id, source, build, Trigger(source=source, event_id=event_id, at=now))


def mature_deal(
    repo: LevelRepository, orders: OrderRepository, due: Due, now: datetime, time_zone: str
) -> list[tuple[str, str]]:
    """One order whose after-sales window has ended brings in its deal figures (成交单数 /
    成交金额); returns the (tenant, affiliate) pairs now owed an assessment."""
    previous = repo.source(due.corp_id, due.key)
    if previous is None or previous.inputs is None:
        return []
    state = orders.get(due.corp_id, due.key.removeprefix("order:"))
    if state is None:
        return []

    def build(current: AppliedSource | None) -> tuple[Contributions, OrderInputs | None, datetime | None]:
        inputs = current.inputs if current and current.inputs else OrderInputs()
        return order_contributions(state, inputs, now, time_zone), inputs, deal_pending(state, inputs, now)

    trigger = Trigger(source=due.key, note="the after-sales window ended: deal figures count", at=now)
    return [
        (due.corp_id, affiliate) for affiliate in apply_source(repo, due.corp_id, due.key, build, trigger)
    ]


def mature_deals(
    repo: LevelRepository, orders: OrderRepository, now: datetime, time_zone: str
) -> list[tuple[str, str]]:
    """Every order whose deal figures came due brings them in (no cap); returns the (tenant,
    affiliate) pairs now owed an assessment."""
    return [pair for due in repo.due_sources(now) for pair in mature_deal(repo, orders, due, now, time_zone)]


def bring_in_deal(
    repo: LevelRepository, orders: OrderRepository, due: Due, now: datetime, time_zone: str
) -> dict[str, int]:
    """The assessment job's unit for a deal queue entry: its deal figures, then the assessments
    they owed (so one run settles both, whatever order the units run in)."""
    owed = mature_deal(repo, orders, due, now, time_zone)
    changes = assess_owed(repo, due.corp_id, [affiliate for _, affiliate in owed], now, time_zone)
    return {"deal_figures": len(owed), "level_changes": len(changes)}


# --- assessment -------------------------------------------------------------------------------------


def figures_of(
    repo: LevelRepository,
    standing: Standing,
    stored: StoredLevels,
    now: datetime,
    time_zone: str,
    *later: date,
) -> MetricHistory:
    """The figures an assessment at ``now`` needs (and one on each of the ``later`` days)."""
    rank, _ = followed_rank(stored, standing)
    position = position_of(standing, rank, now, time_zone)
    days = [local_date(now, time_zone), *later]
    first = min(first_day_needed(stored.settings, position, day) for day in days)
    return repo.figures(standing.corp_id, standing, first)


def numbering_of(stored: StoredLevels, standing: Standing) -> tuple[int, int]:
    """The numbering the standing's rank is counted in, and the current one (a change's rank)."""
    return stored.numbering(standing.rule_version), stored.numbering(stored.version)


def rules_kept(repo: LevelRepository, stored: StoredLevels, standing: Standing) -> LevelSettings | None:
    """For an affiliate about to follow a ``keep`` change: the rules in force before it (their
    level under those is the level kept). None otherwise, or when they were not kept."""
    pending = stored.pending(standing.rule_version)
    if not pending or pending[-1].mode is not ChangeMode.KEEP or pending[-1].deleted_rank is not None:
        return None
    return repo.rules_before(standing.corp_id, pending[-1].version)


def assess(
    repo: LevelRepository, corp_id: str, affiliate_id: str, now: datetime, time_zone: str
) -> LevelChange | None:
    """Assess one affiliate at ``now`` if an assessment is owed or due: follow a rule change,
    raise, or make the downgrade checks due; write the change (with why), the quota and the next
    due check. Returns the change made, None when none was due or nothing changed."""
    for _ in range(MAX_ATTEMPTS):
        standing = repo.standing(corp_id, affiliate_id)
        if not standing.due(now):
            return None
        stored = repo.settings(corp_id)
        change, quota, due_at = None, standing.quota, None
        rule_version, numbering = None, (0, 0)
        if stored is not None:
            figures = figures_of(repo, standing, stored, now, time_zone)
            before = rules_kept(repo, stored, standing)
            change, quota, due_at = decide(stored, standing, figures, now, time_zone, before)
            rule_version, numbering = stored.version, numbering_of(stored, standing)
        try:
            repo.commit(
                standing,
                change,
                now,
                assessed=True,
                due_at=due_at,
                quota=quota,
                rule_version=rule_version,
                numbering=numbering,
            )
        except ConcurrentModification:
            continue
        return change
    raise ConcurrentModification(f"the level of {affiliate_id} keeps moving, retry later")


def assess_owed(
    repo: LevelRepository, corp_id: str, affiliate_ids: Iterable[str], now: datetime, time_zone: str
) -> list[LevelChange]:
    """Assess each affiliate that is owed an assessment (the others are left as they are).

    Done right after the event that owed it; an affiliate whose level keeps moving under
    concurrent writers is left owed, for the queue (the event itself is done)."""
    changes = []
    for affiliate in sorted(set(affiliate_ids)):
        try:
            changes.append(assess(repo, corp_id, affiliate, now, time_zone))
        except ConcurrentModification:
            continue
    return [change for change in changes if change is not None]


def assess_due_affiliate(repo: LevelRepository, due: Due, now: datetime, time_zone: str) -> dict[str, int]:
    """The assessment job's unit for an affiliate owed an assessment or due a check: assess them
    at ``now``."""
    return {"level_changes": int(assess(repo, due.corp_id, due.key, now, time_zone) is not None)}


def assess_due(repo: LevelRepository, now: datetime, time_zone: str) -> int:
    """Assess every affiliate owed an assessment or due a check, here and now (no cap); returns the
    changes made."""
    return sum(
        assess_due_affiliate(repo, due, now, time_zone)["level_changes"] for due in repo.due_affiliates(now)
    )


def run_assessment(
    repo: LevelRepository, orders: OrderRepository, now: datetime, time_zone: str, page: int = RELEVEL_PAGE
) -> dict[str, int]:
    """What ``LevelAssessmentFunction``'s run does, here and now: the re-levelling jobs' pages,
    deal figures that came due, then every assessment owed or due (the scheduled run fans the same
    units out: a job's pages and the affiliates each marks go through its work queue)."""
    marked = relevel_all(repo, now, page)
    matured = mature_deals(repo, orders, now, time_zone)
    return {
        "relevel_marked": marked,
        "deal_figures": len(matured),
        "level_changes": assess_due(repo, now, time_zone),
    }


# --- the merchant -------------------------------------------------------------------------------------


def change_by_hand(
    repo: LevelRepository,
    corp_id: str,
    affiliate_id: str,
    rank: int,
    reason: str,
    actor: str,
    now: datetime,
    time_zone: str = DEFAULT_TIME_ZONE,
) -> LevelChange | None:
    """The merchant sets an affiliate's level (any level, manual ones included), with a reason.
    None when they are at that level already. The level then rises by the rules as before, and its
    own time-driven checks (a cycle, the single check) count from now."""
    stored = repo.settings(corp_id)
    if stored is None:
        raise Conflict("no levels are set yet", field="rank")
    level = stored.settings.level(rank)
    if level is None:
        raise InvalidInput(f"there are {len(stored.settings.levels)} levels, not {rank}", field="rank")
    for _ in range(MAX_ATTEMPTS):
        standing = repo.standing(corp_id, affiliate_id)
        if standing.rank == rank:
            return None
        current = stored.settings.level(standing.rank)
        change = LevelChange(
            kind=ChangeKind.MANUAL,
            version=standing.version + 1,
            from_rank=standing.rank,
            from_name=current.name if current else None,
            to_rank=rank,
            to_name=level.name,
            at=now,
            rule_version=stored.version,
            reason=reason,
            actor=actor,
        )
        day = local_date(now, time_zone)
        figures = figures_of(repo, standing, stored, now, time_zone)
        due = next_check(
            stored.settings, Position(rank, day, day, standing.quota), figures, day, by_hand=True
        )
        try:
            repo.commit(
                standing,
                change,
                now,
                assessed=False,
                due_at=start_of_day(due, time_zone) if due else None,
                rule_version=stored.version,
                numbering=numbering_of(stored, standing),
            )
        except ConcurrentModification:
            continue
        return change
    raise ConcurrentModification(f"the level of {affiliate_id} keeps moving, retry later")


def refresh_member_counts(repo: LevelRepository, now: datetime, limit: int = 1000) -> int:
    """Count the members of each level of every tenant whose count is due (every 2 hours)."""
    tenants = repo.tenants_to_count(now, limit)
    for corp_id in tenants:
        repo.refresh_member_counts(corp_id, now)
    return len(tenants)
