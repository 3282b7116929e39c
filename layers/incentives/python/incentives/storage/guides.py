"""Guide incentives in the single table (:class:`incentives.guides.ports.GuideRepository`).

Rules are listed on ``gsi2`` (``T#<corp>#GUIDE_RULES``); rewards on ``gsi2`` for the tenant
(``T#<corp>#GUIDE_REWARDS#S<n>``, 16 write shards) and on ``gsi3`` per guide, both by creation
time. A grant commits its occurrence, usage, reward, carry, payout and ledger entries in one
transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from incentives.core.clock import iso_utc
from incentives.guides.ports import (
    Counters,
    Grant,
    GrantOutcome,
    GrantRead,
    Record,
    RewardPage,
    RewardQuery,
    StoredRule,
)
from incentives.payouts.model import PayoutStatus
from incentives.storage import keys, org
from incentives.storage.guide_totals import (
    guide_totals,
    month_earnings,
    outlet_totals,
    reward_totals,
    totals_writes,
)
from incentives.storage.ledger import posting_writes
from incentives.storage.payouts import PayoutRepository
from incentives.storage.sharded import merged_page
from incentives.storage.table import (
    AtLeast,
    AtMost,
    ConditionFailed,
    Item,
    NotExists,
    Put,
    Table,
    Update,
    Write,
    query_all,
)

OCCURRENCE, REWARD = "occurrence", "reward"
"""The writes of a grant whose failed condition means the grant was applied before."""

_newest_versions: dict[tuple[str, str], int] = {}
"""Per container: each rule's newest version as last read, the usage a grant reads with the rule
(a hint only: the grant reads the counters again when another version is in force)."""
_MAX_REMEMBERED = 10_000


def rule_item(corp_id: str, rule: StoredRule) -> Item:
    return {
        **keys.guide_rule_key(corp_id, rule.rule_id),
        "kind": "guide_rule",
        "rule_id": rule.rule_id,
        "name": rule.name,
        "behavior": rule.behavior,
        "template": rule.template,
        "enabled": rule.enabled,
        "versions": list(rule.versions),
        "gsi2pk": keys.collection(corp_id, "GUIDE_RULES"),
        "gsi2sk": rule.rule_id,
    }


def rule_from_item(item: Item) -> StoredRule:
    return StoredRule(
        item["rule_id"],
        item["name"],
        item["behavior"],
        item["template"],
        item["enabled"],
        tuple(item["versions"]),
    )


def reward_item(corp_id: str, reward: Record) -> Item:
    sort = f"{reward['created_at']}#{reward['reward_id']}"
    return {
        **keys.guide_reward_key(corp_id, reward["reward_id"]),
        "kind": "guide_reward",
        **reward,
        "gsi2pk": keys.listing_partition(keys.guide_rewards_listing(corp_id), reward["reward_id"]),
        "gsi2sk": sort,
        "gsi3pk": keys.collection(corp_id, f"GUIDE_REWARDS#{reward['guide_id']}"),
        "gsi3sk": sort,
    }


def grant_writes(grant: Grant) -> tuple[list[Write], list[str]]:
    """The grant's writes, and what each one is (to name a failed condition)."""
    corp_id, guide_id = grant.corp_id, grant.guide_id
    at = iso_utc(grant.at)
    carry = keys.guide_carry_key(corp_id, guide_id)
    writes: list[tuple[str, Write]] = [
        (
            OCCURRENCE,
            Put(
                {
                    **keys.guide_occurrence_key(corp_id, grant.rule_id, grant.month, at, grant.reward_id),
                    "kind": "guide_occurrence",
                    **grant.occurrence,
                },
                (NotExists(),),
            ),
        ),
        (
            "usage",
            Update(
                keys.guide_usage_key(corp_id, guide_id, grant.rule_id, grant.month, grant.version),
                add={"used_fen": grant.amount_fen, "count": 1},
                conditions=(AtMost("used_fen", grant.used_fen),),
            ),
        ),
    ]
    if grant.reward is not None:
        writes.append((REWARD, Put(reward_item(corp_id, grant.reward), (NotExists(),))))
        recorded = grant.payout is not None and grant.payout.status is PayoutStatus.RECORDED
        totals = totals_writes(corp_id, grant.reward, granted=True, paid=recorded)
        writes += [("totals", write) for write in totals]
    if grant.carried_fen:
        writes.append(("carry", Update(carry, add={"carried_fen": grant.carried_fen})))
    if grant.payout is not None:
        writes.append(("payout", PayoutRepository.creation_write(grant.payout)))
    if grant.carried_in_fen:
        taken = Update(
            carry,
            add={"carried_fen": -grant.carried_in_fen},
            conditions=(AtLeast("carried_fen", grant.carried_in_fen),),
        )
        writes.append(("carry", taken))
    if grant.entries:
        writes += [("ledger", write) for write in posting_writes(list(grant.entries), grant.at)]
    return [write for _, write in writes], [role for role, _ in writes]


class TableGuideRepository:
    """:class:`incentives.guides.ports.GuideRepository` over the Table port."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def settings(self, corp_id: str) -> Record | None:
        item = self._table.get(keys.guide_incentive_settings_key(corp_id))
        return dict(item["value"]) if item else None

    def save_settings(self, corp_id: str, value: Record, updated_at: datetime) -> None:
        key = keys.guide_incentive_settings_key(corp_id)
        item = {**key, "kind": "settings", "value": value, "updated_at": iso_utc(updated_at)}
        self._table.transact([Put(item)])

    def rule(self, corp_id: str, rule_id: str) -> StoredRule | None:
        item = self._table.get(keys.guide_rule_key(corp_id, rule_id))
        return rule_from_item(item) if item else None

    def rules(self, corp_id: str) -> list[StoredRule]:
        partition = keys.collection(corp_id, "GUIDE_RULES")
        return [
            rule_from_item(item) for item in query_all(self._table, partition, index=keys.COLLECTION_INDEX)
        ]

    def add_rule(self, corp_id: str, rule: StoredRule) -> bool:
        try:
            self._table.transact([Put(rule_item(corp_id, rule), (NotExists(),))])
        except ConditionFailed:
            return False
        return True

    def save_rule(self, corp_id: str, rule: StoredRule) -> None:
        self._table.transact([Put(rule_item(corp_id, rule))])

    def set_rule_enabled(self, corp_id: str, rule_id: str, enabled: bool) -> None:
        self._table.transact([Update(keys.guide_rule_key(corp_id, rule_id), set={"enabled": enabled})])

    def occurrences(self, corp_id: str, rule_id: str, month: str) -> list[Record]:
        items = query_all(self._table, keys.guide_occurrences(corp_id, rule_id, month))
        return [org.record(item) or {} for item in items]

    def guides(self, corp_id: str) -> dict[str, Record]:
        return org.guides(self._table, corp_id)

    def reward(self, corp_id: str, reward_id: str) -> Record | None:
        return org.record(self._table.get(keys.guide_reward_key(corp_id, reward_id)))

    def grant_read(
        self, corp_id: str, guide_id: str, rule_id: str, month: str, at: datetime, reward_id: str
    ) -> GrantRead:
        hinted = _newest_versions.get((corp_id, rule_id))
        wanted = [
            keys.guide_rule_key(corp_id, rule_id),
            keys.guide_key(corp_id, guide_id),
            keys.guide_incentive_settings_key(corp_id),
            keys.guide_reward_key(corp_id, reward_id),
            keys.guide_occurrence_key(corp_id, rule_id, month, iso_utc(at), reward_id),
            keys.guide_carry_key(corp_id, guide_id),
        ]
        if hinted is not None:
            wanted.append(keys.guide_usage_key(corp_id, guide_id, rule_id, month, hinted))
        rule, guide, settings, reward, occurrence, carry, *usage = self._table.get_many(wanted)
        stored = rule_from_item(rule) if rule else None
        if stored is not None and stored.versions:
            if len(_newest_versions) >= _MAX_REMEMBERED:
                _newest_versions.clear()
            _newest_versions[(corp_id, rule_id)] = max(int(v["version"]) for v in stored.versions)
        used = {hinted: int((usage[0] or {}).get("used_fen", 0))} if hinted is not None else {}
        return GrantRead(
            rule=stored,
            guide=org.record(guide),
            settings=dict(settings["value"]) if settings else None,
            reward=org.record(reward),
            occurrence_recorded=occurrence is not None,
            carried_fen=int((carry or {}).get("carried_fen", 0)),
            used_fen=used,
        )

    def counters(self, corp_id: str, guide_id: str, rule_id: str, month: str, version: int) -> Counters:
        usage, carry = self._table.get_many(
            [
                keys.guide_usage_key(corp_id, guide_id, rule_id, month, version),
                keys.guide_carry_key(corp_id, guide_id),
            ]
        )
        return Counters(int((usage or {}).get("used_fen", 0)), int((carry or {}).get("carried_fen", 0)))

    def commit_grant(self, grant: Grant) -> GrantOutcome:
        writes, roles = grant_writes(grant)
        try:
            self._table.transact(writes)
        except ConditionFailed as failure:
            if any(roles[position] in (OCCURRENCE, REWARD) for position in failure.failed):
                return GrantOutcome.ALREADY_APPLIED
            return GrantOutcome.COUNTERS_MOVED
        return GrantOutcome.APPLIED

    def rewards_page(self, corp_id: str, guide_id: str | None, query: RewardQuery) -> RewardPage:
        if guide_id:  # one guide's own partition: a listing of one shard
            partitions = [keys.collection(corp_id, f"GUIDE_REWARDS#{guide_id}")]
            index = keys.GUIDE_REWARDS_INDEX
        else:
            partitions, index = (
                keys.listing_partitions(keys.guide_rewards_listing(corp_id)),
                keys.COLLECTION_INDEX,
            )
        keep = query.keep
        page = merged_page(
            self._table,
            partitions,
            index=index,
            limit=query.limit,
            cursor=query.cursor,
            newest_first=True,
            sk_at_least=query.since,
            # a sort key is <created_at>#<reward_id>: "$" sorts after every "#" of the last instant
            sk_at_most=None if query.until is None else f"{query.until}$",
            keep=None if keep is None else (lambda item: keep(org.record(item) or {})),
        )
        return RewardPage([org.record(item) or {} for item in page.items], page.cursor)

    def reward_totals(self, corp_id: str, first_day: str | None, last_day: str | None) -> Record:
        return reward_totals(self._table, corp_id, first_day, last_day)

    def outlet_totals(
        self, corp_id: str, outlet_ids: Sequence[str], first_day: str | None, last_day: str | None
    ) -> Record:
        return outlet_totals(self._table, corp_id, outlet_ids, first_day, last_day)

    def guide_totals(
        self,
        corp_id: str,
        guide_id: str,
        first_day: str | None,
        last_day: str | None,
        outlet_kept: Callable[[str], bool],
    ) -> Record:
        return guide_totals(self._table, corp_id, guide_id, first_day, last_day, outlet_kept)

    def month_earnings(self, corp_id: str, guide_id: str) -> dict[str, int]:
        return month_earnings(self._table, corp_id, guide_id)

    def outlet_paths(self, corp_id: str) -> dict[str, list[str]]:
        departments = org.collection(self._table, corp_id, "DEPTS")
        return {str(d["dept_id"]): list(d.get("path", [])) for d in departments if d.get("is_outlet")}

    def carried(self, corp_id: str, guide_id: str) -> int:
        item = self._table.get(keys.guide_carry_key(corp_id, guide_id))
        return int(item.get("carried_fen", 0)) if item else 0
