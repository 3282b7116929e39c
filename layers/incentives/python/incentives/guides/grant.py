"""Granting a guide's reward once per trigger (seed 000): the occurrence, its count against the
monthly limit, the reward with its ledger entries and payout, committed together."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace

from incentives.core.clock import iso_utc
from incentives.core.errors import ConcurrentModification
from incentives.guides.ports import (
    Counters,
    Grant,
    GrantOutcome,
    GuideRepository,
    PayoutLookup,
    Record,
    StoredRule,
)
from incentives.guides.programs import priced_versions, rule_id_for
from incentives.guides.rules import (
    PaymentMethod,
    RuleVersion,
    month_of,
    online_payment,
    reward_for,
    version_at,
)
from incentives.guides.settings import IncentiveSettings, settings_from
from incentives.guides.triggers import Trigger
from incentives.ledger import postings
from incentives.ledger.model import Account, OwnerKind
from incentives.payouts.creation import PayoutRequest, enqueue, new_payout
from incentives.payouts.model import Payee, ProviderName, payout_id_for
from incentives.payouts.ports import PayoutQueue

MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class GuideEffects:
    guides: GuideRepository
    payouts: PayoutLookup
    queue: PayoutQueue
    openid_of: Callable[[str, str], str]
    time_zone: str


def reward_id_for(rule_id: str, trigger: Trigger) -> str:
    return "rw" + hashlib.sha256(f"{rule_id}|{trigger.reward_key_hint}".encode()).hexdigest()[:30]


@dataclass(frozen=True)
class GrantContext:
    """What a grant reads once, before its attempts."""

    corp_id: str
    trigger: Trigger
    rule: StoredRule
    guide: Record
    version: RuleVersion
    settings: IncentiveSettings
    month: str
    reward_id: str

    @property
    def online(self) -> bool:
        return self.settings.payment_method is PaymentMethod.ONLINE


def decide(context: GrantContext, counters: Counters, openid_of: Callable[[str, str], str]) -> Grant:
    """The grant of one trigger given the counters read: the occurrence always; when the limit
    leaves an amount, the reward credited and settled at once, and its payout or its carry."""
    corp_id, trigger, rule, guide = context.corp_id, context.trigger, context.rule, context.guide
    amount = reward_for(context.version, counters.used_fen)
    occurrence = {
        "guide_id": trigger.guide_id,
        "at": iso_utc(trigger.at),
        "source": context.reward_id,
        "source_event_id": trigger.source_event_id,
        "granted_fen": amount,
        "version": context.version.version,
        "dept_path": guide.get("dept_path", []),
    }
    grant = Grant(
        corp_id,
        trigger.guide_id,
        rule.rule_id,
        context.month,
        context.version.version,
        trigger.at,
        context.reward_id,
        occurrence,
        counters.used_fen,
        amount,
    )
    if amount == 0:
        return grant
    carried_in = counters.carried_fen if context.online else 0
    pay_now = online_payment(amount, carried_in) if context.online else amount
    # The reward, its credit (settled at once) and its payout (with the reserve) commit together,
    # so its money is never withdrawable on its own and never lacks its payout. Online, a reward
    # below WeCom Pay's minimum stays settled and is carried into the next online payment.
    account = Account(corp_id, OwnerKind.GUIDE, trigger.guide_id)
    credit = postings.credit(account, f"reward:{context.reward_id}", amount, trigger.at, note=rule.name)
    settled = postings.settlement(postings.Hold(account, credit.entry_id, amount, trigger.at), trigger.at)
    assert settled is not None
    reward = _reward(context, amount)
    if pay_now == 0:
        return replace(
            grant, reward={**reward, "carried": True}, entries=[credit, settled], carried_fen=amount
        )
    payee = Payee(
        account,
        openid=openid_of(corp_id, trigger.guide_id) if context.online else "",
        name=guide.get("name", ""),
        dept_path=tuple(guide.get("dept_path", [])),
    )
    payout, payout_entries = new_payout(
        PayoutRequest(
            f"reward:{context.reward_id}",
            payee,
            pay_now,
            ProviderName.WECOM_PAY if context.online else ProviderName.OFFLINE,
            f"导购激励 {rule.name}",
        ),
        trigger.at,
    )
    if carried_in:
        reward["carried_in_fen"] = carried_in
    facts = {name: reward[name] for name in PAID_FACTS if name in reward}
    return replace(
        grant,
        reward=reward,
        entries=[credit, settled, *payout_entries],
        payout=replace(payout, source_facts=facts),
        carried_in_fen=carried_in,
    )


PAID_FACTS = (
    "reward_id",
    "guide_id",
    "outlet_id",
    "rule_id",
    "created_at",
    "month",
    "amount_fen",
    "carried_in_fen",
)
"""What a reward's payout keeps of it: all its move to paid adds to the reward totals."""


def _reward(context: GrantContext, amount: int) -> Record:
    trigger, guide, rule = context.trigger, context.guide, context.rule
    return {
        "reward_id": context.reward_id,
        "guide_id": trigger.guide_id,
        "guide_name": guide.get("name", ""),
        "outlet_id": next(iter(guide.get("outlet_ids", [])), ""),
        "dept_path": guide.get("dept_path", []),
        "rule_id": rule.rule_id,
        "rule_name": rule.name,
        "version": context.version.version,
        "behavior": trigger.behavior,
        "source_event_id": trigger.source_event_id,
        "customer_id": trigger.customer_id,
        "amount_fen": amount,
        "payment_method": context.settings.payment_method.value,
        "month": context.month,
        "created_at": iso_utc(trigger.at),
    }


def grant(effects: GuideEffects, corp_id: str, trigger: Trigger) -> str:
    """Apply one trigger once: record the occurrence, count it against the limit, reward, pay.

    One batched read (``GuideRepository.grant_read``) and one transaction in the usual case; the
    counters are read again only when the version in force is not the one read with the rule,
    or when another grant moved them in between (the transaction's conditions tell)."""
    repo = effects.guides
    rule_id = rule_id_for(corp_id, trigger.behavior)
    reward_id = reward_id_for(rule_id, trigger)
    month = month_of(trigger.at, effects.time_zone)
    read = repo.grant_read(corp_id, trigger.guide_id, rule_id, month, trigger.at, reward_id)
    rule = read.rule
    if rule is None or not rule.enabled:
        return f"no enabled rule for {trigger.behavior}"
    guide = read.guide
    if guide is None:
        return f"{trigger.guide_id} is not a guide of an outlet"
    version = version_at(priced_versions(rule), trigger.at)
    if read.reward is not None or read.occurrence_recorded:
        return _already_granted(effects, corp_id, reward_id, read.reward)
    settings = settings_from(read.settings)
    context = GrantContext(corp_id, trigger, rule, guide, version, settings, month, reward_id)
    counters = read.counters(version.version)
    for _ in range(MAX_ATTEMPTS):
        if counters is None:
            counters = repo.counters(corp_id, trigger.guide_id, rule.rule_id, month, version.version)
        decided = decide(context, counters, effects.openid_of)
        outcome = repo.commit_grant(decided)
        if outcome is GrantOutcome.ALREADY_APPLIED:
            return _already_granted(effects, corp_id, reward_id, repo.reward(corp_id, reward_id))
        if outcome is GrantOutcome.APPLIED:
            return _applied(effects, decided, trigger)
        counters = None
    raise ConcurrentModification(f"guide {trigger.guide_id}: too many concurrent rewards, retry later")


def _applied(effects: GuideEffects, decided: Grant, trigger: Trigger) -> str:
    if decided.amount_fen == 0:
        return f"{trigger.behavior}: monthly limit reached for {trigger.guide_id}"
    payout = decided.payout
    if payout is None:
        return f"reward {decided.reward_id} of {decided.amount_fen} fen, carried into the next online payment"
    enqueue(effects.queue, payout)
    amount = f"reward {decided.reward_id} of {decided.amount_fen} fen"
    return f"{amount}, payout {payout.payout_id} {payout.status.value}"


def _already_granted(effects: GuideEffects, corp_id: str, reward_id: str, reward: Record | None) -> str:
    """A trigger seen before (``reward``: its reward as read, if any): its reward and payout were
    committed together; report them."""
    if reward is None:
        return "occurrence counted before, no reward"
    payout = effects.payouts.get(corp_id, payout_id_for(corp_id, f"reward:{reward_id}"))
    return f"reward {reward_id} already granted, payout {payout.status.value if payout else 'missing'}"
