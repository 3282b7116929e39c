"""A guide reward reads its context in one batch, and the usage it reads alongside (the version
this container last saw newest) never stands in for another version's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from incentives.guides.grant import GuideEffects, grant
from incentives.guides.programs import RuleEdit, RuleInput, create_custom_rule, edit_rule, rule_id_for
from incentives.guides.triggers import trigger_for_behavior
from incentives.storage.guides import TableGuideRepository
from incentives.storage.org import guide_item
from incentives.storage.payouts import PayoutRepository
from incentives.storage.table import Put
from tests.support.fanout import CountingTable
from tests.support.guide_rewards import stored_rewards

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
GUIDE = "g-zhang"


class _Queue:
    def send(self, corp_id: str, payout_id: str, generation: int) -> None:
        raise AssertionError("an offline reward is recorded, not queued")


def _program(amount: int = 200, limit: int | None = 500) -> tuple[CountingTable, GuideEffects, str]:
    corp = f"ww-{uuid.uuid4().hex[:8]}"  # the per-container hint is per tenant and rule
    table = CountingTable()
    table.transact([Put(guide_item(corp, {"user_id": GUIDE, "name": "张伟", "dept_path": ["1"]}))])
    repo = TableGuideRepository(table)
    create_custom_rule(
        repo, corp, RuleInput(name="到店", behavior="visit", amount_fen=amount, monthly_limit_fen=limit), T0
    )
    effects = GuideEffects(repo, PayoutRepository(table), _Queue(), lambda corp, user: "", "Asia/Shanghai")
    return table, effects, corp


def _visit(effects: GuideEffects, corp: str, event_id: str, at: datetime) -> str:
    return grant(effects, corp, trigger_for_behavior(event_id, "visit", f"c-{event_id}", GUIDE, at))


def _granted(effects: GuideEffects, corp: str) -> dict[str, int]:
    rewards = stored_rewards(effects.guides, corp, GUIDE)
    return {reward["source_event_id"]: reward["amount_fen"] for reward in rewards}


def test_a_reward_is_one_batched_read_and_one_transaction_once_the_rule_was_seen() -> None:
    table, effects, corp = _program()
    _visit(effects, corp, "v1", T0 + timedelta(hours=1))  # the container's first: counters read apart
    before = (table.calls.reads, table.calls.writes)
    assert "reward" in _visit(effects, corp, "v2", T0 + timedelta(hours=2))
    assert (table.calls.reads - before[0], table.calls.writes - before[1]) == (1, 1)
    assert _granted(effects, corp) == {"v1": 200, "v2": 200}


def test_a_repeat_is_told_from_the_batched_read_and_writes_nothing() -> None:
    table, effects, corp = _program()
    _visit(effects, corp, "v1", T0 + timedelta(hours=1))
    writes = table.calls.writes
    assert "already granted" in _visit(effects, corp, "v1", T0 + timedelta(hours=1))
    assert table.calls.writes == writes
    assert _granted(effects, corp) == {"v1": 200}


def test_the_usage_read_alongside_never_stands_in_for_the_version_in_force() -> None:
    _table, effects, corp = _program(amount=200, limit=500)
    _visit(effects, corp, "v1", T0 + timedelta(hours=1))
    _visit(effects, corp, "v2", T0 + timedelta(hours=2))  # version 1: 400 of 500 used
    edited_at = T0 + timedelta(hours=3)
    rule_id = rule_id_for(corp, "custom:visit")
    edit_rule(effects.guides, corp, rule_id, RuleEdit(amount_fen=300, monthly_limit_fen=300), edited_at)
    # the hint still names version 1 (its usage 400): version 2 in force has used nothing
    _visit(effects, corp, "v3", edited_at + timedelta(hours=1))
    # the hint now names version 2 (300 of 300 used): a late visit from before the edit is version 1's
    _visit(effects, corp, "late", T0 + timedelta(hours=2, minutes=30))
    _visit(effects, corp, "v4", edited_at + timedelta(hours=2))  # version 2's limit is reached
    assert _granted(effects, corp) == {"v1": 200, "v2": 200, "v3": 300, "late": 100}
