"""Guide incentive programs: settings, versioned rules, granting rewards once, records (seed 000)."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, computed_field

from incentives.core.access import Principal
from incentives.core.clock import iso_utc, parse_instant
from incentives.core.errors import ConcurrentModification, Conflict, InvalidInput, NotFound
from incentives.core.money import Fen
from incentives.guides.rules import (
    CUSTOM_PREFIX,
    TEMPLATES,
    WECOM_PAY_MINIMUM_FEN,
    Occurrence,
    PaymentMethod,
    PreviewLine,
    RuleVersion,
    month_of,
    online_payment,
    preview,
    reward_for,
    version_at,
)
from incentives.guides.triggers import Trigger
from incentives.ledger import postings
from incentives.ledger.model import Account, OwnerKind
from incentives.org.service import guide_key, stored
from incentives.payouts.model import Payee, PayoutStatus, ProviderName, payout_id_for
from incentives.payouts.service import PayoutQueue, PayoutRequest, new_payout
from incentives.storage import keys
from incentives.storage.ledger import posting_writes
from incentives.storage.payouts import PayoutRepository, payout_item
from incentives.storage.table import AtLeast, AtMost, ConditionFailed, NotExists, Put, Table, Update, Write

MAX_ATTEMPTS = 5


MAX_REWARD_FEN = 20_000_000
"""One reward: 200 000 yuan."""
MAX_MONTHLY_LIMIT_FEN = 2_000_000_000


class IncentiveSettings(BaseModel):
    payment_method: PaymentMethod = PaymentMethod.OFFLINE

    @computed_field(  # type: ignore[prop-decorator]
        description="Online only: a reward below this is carried into the guide's next online payment"
    )
    @property
    def minimum_online_payment_fen(self) -> int:
        return WECOM_PAY_MINIMUM_FEN


class RuleView(BaseModel):
    rule_id: str
    name: str
    behavior: str
    template: bool
    enabled: bool
    version: int
    amount_fen: int
    monthly_limit_fen: int | None
    effective_from: str
    versions: list[dict[str, Any]]


class RuleInput(BaseModel):
    name: str = Field(min_length=1, max_length=30)
    behavior: str = Field(min_length=1, max_length=64, description="A customer behavior name (custom rules)")
    amount_fen: Annotated[Fen, Field(le=MAX_REWARD_FEN)]
    monthly_limit_fen: Annotated[Fen, Field(le=MAX_MONTHLY_LIMIT_FEN)] | None = None
    enabled: bool = True


class RuleEdit(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=30)
    amount_fen: Annotated[Fen, Field(le=MAX_REWARD_FEN)]
    monthly_limit_fen: Annotated[Fen, Field(le=MAX_MONTHLY_LIMIT_FEN)] | None = None


def _tenant(corp_id: str) -> str:
    return keys.tenant(corp_id)


def settings_key(corp_id: str) -> dict[str, str]:
    return {"pk": f"{_tenant(corp_id)}#SETTINGS#GUIDE_INCENTIVES", "sk": "SETTINGS"}


def rule_key(corp_id: str, rule_id: str) -> dict[str, str]:
    return {"pk": f"{_tenant(corp_id)}#GUIDE_RULE#{rule_id}", "sk": "RULE"}


def reward_key(corp_id: str, reward_id: str) -> dict[str, str]:
    return {"pk": f"{_tenant(corp_id)}#GUIDE_REWARD#{reward_id}", "sk": "REWARD"}


def usage_key(corp_id: str, guide_id: str, rule_id: str, month: str, version: int) -> dict[str, str]:
    return {"pk": f"{_tenant(corp_id)}#GUIDE_USAGE#{guide_id}#{rule_id}#{month}", "sk": f"V#{version:04d}"}


def carry_key(corp_id: str, guide_id: str) -> dict[str, str]:
    """Rewards too small to pay alone online, waiting for the guide's next online payment."""
    return {"pk": f"{_tenant(corp_id)}#GUIDE_CARRY#{guide_id}", "sk": "CARRY"}


def carried(table: Table, corp_id: str, guide_id: str) -> int:
    item = table.get(carry_key(corp_id, guide_id))
    return int(item.get("carried_fen", 0)) if item else 0


def occurrence_key(corp_id: str, rule_id: str, month: str, at: datetime, source: str) -> dict[str, str]:
    return {"pk": f"{_tenant(corp_id)}#GUIDE_OCC#{rule_id}#{month}", "sk": f"{iso_utc(at)}#{source}"}


# --- settings -------------------------------------------------------------------------------------


def load_settings(table: Table, corp_id: str) -> IncentiveSettings:
    item = table.get(settings_key(corp_id))
    return IncentiveSettings.model_validate(item["value"]) if item else IncentiveSettings()


def save_settings(
    table: Table, corp_id: str, settings: IncentiveSettings, wecom_pay_configured: bool, now: datetime
) -> IncentiveSettings:
    if settings.payment_method is PaymentMethod.ONLINE and not wecom_pay_configured:
        raise InvalidInput(
            "online payment needs WeCom Pay: add the tenant's wecom_pay credentials first",
            field="payment_method",
        )
    table.transact(
        [
            Put(
                {
                    **settings_key(corp_id),
                    "kind": "settings",
                    "value": settings.model_dump(mode="json"),
                    "updated_at": iso_utc(now),
                }
            )
        ]
    )
    ensure_templates(table, corp_id, now)
    return settings


# --- rules ----------------------------------------------------------------------------------------


def _rule_view(item: dict[str, Any]) -> RuleView:
    current = item["versions"][-1]
    return RuleView(
        rule_id=item["rule_id"],
        name=item["name"],
        behavior=item["behavior"],
        template=item["template"],
        enabled=item["enabled"],
        version=current["version"],
        amount_fen=current["amount_fen"],
        monthly_limit_fen=current.get("monthly_limit_fen"),
        effective_from=current["effective_from"],
        versions=item["versions"],
    )


def _version(entry: dict[str, Any]) -> RuleVersion:
    return RuleVersion(
        int(entry["version"]),
        int(entry["amount_fen"]),
        entry.get("monthly_limit_fen"),
        parse_instant(entry["effective_from"]),
    )


def _priced_versions(rule: dict[str, Any]) -> list[RuleVersion]:
    """The versions occurrences are priced by. A template's first version is the placeholder made
    with the settings (amount 0, disabled) until the merchant configures it: once configured, an
    occurrence older than the configuration takes the first configured version, as for custom rules."""
    versions = [_version(entry) for entry in rule["versions"]]
    if rule.get("template") and len(versions) > 1 and versions[0].amount_fen == 0:
        return versions[1:]
    return versions


def _rule_item(
    corp_id: str,
    rule_id: str,
    name: str,
    behavior: str,
    template: bool,
    enabled: bool,
    versions: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        **rule_key(corp_id, rule_id),
        "kind": "guide_rule",
        "rule_id": rule_id,
        "name": name,
        "behavior": behavior,
        "template": template,
        "enabled": enabled,
        "versions": versions,
        "gsi2pk": f"{_tenant(corp_id)}#GUIDE_RULES",
        "gsi2sk": rule_id,
    }


def ensure_templates(table: Table, corp_id: str, now: datetime) -> None:
    """The default templates exist from the start, disabled and at zero until configured."""
    for behavior, name in TEMPLATES.items():
        first = [{"version": 1, "amount_fen": 0, "monthly_limit_fen": None, "effective_from": iso_utc(now)}]
        template = _rule_item(corp_id, behavior, name, behavior, True, False, first)
        with contextlib.suppress(ConditionFailed):  # it exists already
            table.transact([Put(template, (NotExists(),))])


def list_rules(table: Table, corp_id: str, now: datetime) -> list[RuleView]:
    ensure_templates(table, corp_id, now)
    return [
        _rule_view(item)
        for item in sorted(
            stored(table, corp_id, "GUIDE_RULES").values(), key=lambda i: (not i["template"], i["rule_id"])
        )
    ]


def get_rule(table: Table, corp_id: str, rule_id: str, now: datetime | None = None) -> dict[str, Any]:
    item = table.get(rule_key(corp_id, rule_id))
    if item is None and rule_id in TEMPLATES and now is not None:
        ensure_templates(table, corp_id, now)
        item = table.get(rule_key(corp_id, rule_id))
    if item is None:
        raise NotFound(f"no incentive rule {rule_id}", field="rule_id")
    return item


def rule_view(table: Table, corp_id: str, rule_id: str, now: datetime) -> RuleView:
    return _rule_view(get_rule(table, corp_id, rule_id, now))


def create_custom_rule(table: Table, corp_id: str, rule: RuleInput, now: datetime) -> RuleView:
    behavior = CUSTOM_PREFIX + rule.behavior
    rule_id = "r" + hashlib.sha256(f"{corp_id}|{behavior}".encode()).hexdigest()[:12]
    first = [
        {
            "version": 1,
            "amount_fen": rule.amount_fen,
            "monthly_limit_fen": rule.monthly_limit_fen,
            "effective_from": iso_utc(now),
        }
    ]
    try:
        table.transact(
            [
                Put(
                    _rule_item(corp_id, rule_id, rule.name, behavior, False, rule.enabled, first),
                    (NotExists(),),
                )
            ]
        )
    except ConditionFailed:
        raise Conflict(f"a rule for behavior {rule.behavior} exists", field="behavior") from None
    return _rule_view(get_rule(table, corp_id, rule_id))


def edit_rule(table: Table, corp_id: str, rule_id: str, edit: RuleEdit, now: datetime) -> RuleView:
    """A new version, effective at once; granted rewards are never altered."""
    item = get_rule(table, corp_id, rule_id, now)
    versions = [
        *item["versions"],
        {
            "version": len(item["versions"]) + 1,
            "amount_fen": edit.amount_fen,
            "monthly_limit_fen": edit.monthly_limit_fen,
            "effective_from": iso_utc(now),
        },
    ]
    table.transact([Put({**item, "name": edit.name or item["name"], "versions": versions})])
    return _rule_view(get_rule(table, corp_id, rule_id))


def set_enabled(table: Table, corp_id: str, rule_id: str, enabled: bool, now: datetime) -> RuleView:
    item = get_rule(table, corp_id, rule_id, now)
    table.transact([Update(rule_key(corp_id, rule_id), set={"enabled": enabled})])
    return _rule_view({**item, "enabled": enabled})


def preview_edit(
    table: Table, principal: Principal, rule_id: str, edit: RuleEdit, now: datetime, time_zone: str
) -> list[PreviewLine]:
    """What this month's occurrences would have produced under ``edit``, next to what they produced.

    Lines cover only the occurrences in the principal's scope (the guide's department when it
    happened; occurrences recorded without one take the guide's current department).
    """
    corp_id = principal.corp_id
    get_rule(table, corp_id, rule_id, now)
    month = month_of(now, time_zone)
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = table.query(f"{_tenant(corp_id)}#GUIDE_OCC#{rule_id}#{month}", limit=500, cursor=cursor)
        items += page.items
        cursor = page.cursor
        if cursor is None:
            break
    current: dict[str, Any] = {}
    if any("dept_path" not in item for item in items):
        current = {guide["user_id"]: guide for guide in stored(table, corp_id, "GUIDES").values()}
    occurrences = [
        Occurrence(
            i["guide_id"],
            parse_instant(i["at"]),
            i["source"],
            int(i["granted_fen"]),
            tuple(
                i["dept_path"] if "dept_path" in i else current.get(i["guide_id"], {}).get("dept_path", [])
            ),
        )
        for i in items
    ]
    return preview(
        occurrences,
        RuleVersion(0, edit.amount_fen, edit.monthly_limit_fen, now),
        shown=lambda occurrence: principal.sees_department_path(occurrence.dept_path),
    )


# --- granting ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GuideEffects:
    table: Table
    payouts: PayoutRepository
    queue: PayoutQueue
    openid_of: Callable[[str, str], str]
    time_zone: str


def _find_rule(table: Table, corp_id: str, behavior: str) -> dict[str, Any] | None:
    if behavior in TEMPLATES:
        return table.get(rule_key(corp_id, behavior))
    rule_id = "r" + hashlib.sha256(f"{corp_id}|{behavior}".encode()).hexdigest()[:12]
    return table.get(rule_key(corp_id, rule_id))


def grant(effects: GuideEffects, corp_id: str, trigger: Trigger) -> str:
    """Apply one trigger once: record the occurrence, count it against the limit, reward, pay."""
    table = effects.table
    rule = _find_rule(table, corp_id, trigger.behavior)
    if rule is None or not rule["enabled"]:
        return f"no enabled rule for {trigger.behavior}"
    guide = table.get(guide_key(corp_id, trigger.guide_id))
    if guide is None:
        return f"{trigger.guide_id} is not a guide of an outlet"
    version = version_at(_priced_versions(rule), trigger.at)
    reward_id = (
        "rw" + hashlib.sha256(f"{rule['rule_id']}|{trigger.reward_key_hint}".encode()).hexdigest()[:30]
    )
    settings = load_settings(table, corp_id)
    online = settings.payment_method is PaymentMethod.ONLINE
    month = month_of(trigger.at, effects.time_zone)
    if (
        table.get(reward_key(corp_id, reward_id)) is not None
        or table.get(occurrence_key(corp_id, rule["rule_id"], month, trigger.at, reward_id)) is not None
    ):
        return _already_granted(effects, corp_id, reward_id)
    for _ in range(MAX_ATTEMPTS):
        usage_item, carry_item = table.get_many(
            [
                usage_key(corp_id, trigger.guide_id, rule["rule_id"], month, version.version),
                carry_key(corp_id, trigger.guide_id),
            ]
        )
        used = int((usage_item or {}).get("used_fen", 0))
        amount = reward_for(version, used)
        writes: list[Write] = [
            Put(
                {
                    **occurrence_key(corp_id, rule["rule_id"], month, trigger.at, reward_id),
                    "kind": "guide_occurrence",
                    "guide_id": trigger.guide_id,
                    "at": iso_utc(trigger.at),
                    "source": reward_id,
                    "source_event_id": trigger.source_event_id,
                    "granted_fen": amount,
                    "version": version.version,
                    "dept_path": guide.get("dept_path", []),
                },
                (NotExists(),),
            ),
            Update(
                usage_key(corp_id, trigger.guide_id, rule["rule_id"], month, version.version),
                add={"used_fen": amount, "count": 1},
                conditions=(AtMost("used_fen", used),),
            ),
        ]
        payout = None
        carried_in = int((carry_item or {}).get("carried_fen", 0)) if online else 0
        pay_now = online_payment(amount, carried_in) if online else amount
        if amount > 0:
            # The reward, its credit (settled at once) and its payout (with the reserve) commit together,
            # so its money is never withdrawable on its own and never lacks its payout. Online, a reward
            # below WeCom Pay's minimum stays settled and is carried into the next online payment.
            account = Account(corp_id, OwnerKind.GUIDE, trigger.guide_id)
            credit = postings.credit(account, f"reward:{reward_id}", amount, trigger.at, note=rule["name"])
            settled = postings.settlement(
                postings.Hold(account, credit.entry_id, amount, trigger.at), trigger.at
            )
            assert settled is not None
            entries = [credit, settled]
            reward = _reward_item(
                corp_id, reward_id, trigger, guide, rule, version.version, amount, settings, month
            )
            if pay_now == 0:
                reward["carried"] = True
                writes.append(Update(carry_key(corp_id, trigger.guide_id), add={"carried_fen": amount}))
            else:
                payee = Payee(
                    account,
                    openid=effects.openid_of(corp_id, trigger.guide_id) if online else "",
                    name=guide.get("name", ""),
                    dept_path=tuple(guide.get("dept_path", [])),
                )
                payout, payout_entries = new_payout(
                    PayoutRequest(
                        f"reward:{reward_id}",
                        payee,
                        pay_now,
                        ProviderName.WECOM_PAY if online else ProviderName.OFFLINE,
                        f"导购激励 {rule['name']}",
                    ),
                    trigger.at,
                )
                entries += payout_entries
                writes.append(Put(payout_item(payout), (NotExists(),)))
                if carried_in:
                    reward["carried_in_fen"] = carried_in
                    writes.append(
                        Update(
                            carry_key(corp_id, trigger.guide_id),
                            add={"carried_fen": -carried_in},
                            conditions=(AtLeast("carried_fen", carried_in),),
                        )
                    )
            writes.insert(2, Put(reward, (NotExists(),)))
            writes += posting_writes(entries, trigger.at)
        try:
            table.transact(writes)
        except ConditionFailed as failure:
            if 0 in failure.failed or (amount > 0 and 2 in failure.failed):
                break  # applied before (a redelivery or a racing duplicate)
            continue  # the limit usage or the carry moved meanwhile: read again
        else:
            if amount == 0:
                return f"{trigger.behavior}: monthly limit reached for {trigger.guide_id}"
            if payout is None:
                return f"reward {reward_id} of {amount} fen, carried into the next online payment"
            if payout.status is PayoutStatus.QUEUED:
                effects.queue.send(corp_id, payout.payout_id, payout.generation)
            return f"reward {reward_id} of {amount} fen, payout {payout.payout_id} {payout.status.value}"
    else:
        raise ConcurrentModification(f"guide {trigger.guide_id}: too many concurrent rewards, retry later")
    return _already_granted(effects, corp_id, reward_id)


def _reward_item(
    corp_id: str,
    reward_id: str,
    trigger: Trigger,
    guide: dict[str, Any],
    rule: dict[str, Any],
    version: int,
    amount: int,
    settings: IncentiveSettings,
    month: str,
) -> dict[str, Any]:
    return {
        **reward_key(corp_id, reward_id),
        "kind": "guide_reward",
        "reward_id": reward_id,
        "guide_id": trigger.guide_id,
        "guide_name": guide.get("name", ""),
        "outlet_id": next(iter(guide.get("outlet_ids", [])), ""),
        "dept_path": guide.get("dept_path", []),
        "rule_id": rule["rule_id"],
        "rule_name": rule["name"],
        "version": version,
        "behavior": trigger.behavior,
        "source_event_id": trigger.source_event_id,
        "customer_id": trigger.customer_id,
        "amount_fen": amount,
        "payment_method": settings.payment_method.value,
        "month": month,
        "created_at": iso_utc(trigger.at),
        "gsi2pk": f"{_tenant(corp_id)}#GUIDE_REWARDS",
        "gsi2sk": f"{iso_utc(trigger.at)}#{reward_id}",
        "gsi3pk": f"{_tenant(corp_id)}#GUIDE_REWARDS#{trigger.guide_id}",
        "gsi3sk": f"{iso_utc(trigger.at)}#{reward_id}",
    }


def _already_granted(effects: GuideEffects, corp_id: str, reward_id: str) -> str:
    """A trigger seen before: its reward and payout were committed together; report them."""
    reward = effects.table.get(reward_key(corp_id, reward_id))
    if reward is None:
        return "occurrence counted before, no reward"
    payout = effects.payouts.get(corp_id, payout_id_for(corp_id, f"reward:{reward_id}"))
    return f"reward {reward_id} already granted, payout {payout.status.value if payout else 'missing'}"


# --- records --------------------------------------------------------------------------------------------


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


def _record(item: dict[str, Any], payouts: PayoutRepository, corp_id: str) -> RewardRecord:
    payout = (
        None
        if item.get("carried")
        else payouts.get(corp_id, payout_id_for(corp_id, f"reward:{item['reward_id']}"))
    )
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


def records(
    table: Table,
    payouts: PayoutRepository,
    principal: Principal,
    *,
    guide_id: str | None = None,
    outlet_id: str | None = None,
    rule_id: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    only_guide: str | None = None,
) -> list[RewardRecord]:
    """Reward records newest first, filtered; operators see their subtrees, a guide only their own."""
    partition = f"GUIDE_REWARDS#{only_guide}" if only_guide else "GUIDE_REWARDS"
    index = "gsi3" if only_guide else "gsi2"
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = table.query(
            f"{_tenant(principal.corp_id)}#{partition}",
            index=index,
            limit=500,
            cursor=cursor,
            newest_first=True,
        )
        items += page.items
        cursor = page.cursor
        if cursor is None:
            break
    found = []
    for item in items:
        if only_guide is None and not principal.sees_department_path(item.get("dept_path", [])):
            continue
        at = parse_instant(item["created_at"])
        if (
            (guide_id and item["guide_id"] != guide_id)
            or (outlet_id and item.get("outlet_id") != outlet_id)
            or (rule_id and item["rule_id"] != rule_id)
            or (since and at < since)
            or (until and at > until)
        ):
            continue
        record = _record(item, payouts, principal.corp_id)
        if status and record.status != status:
            continue
        found.append(record)
    return found


def overview(found: list[RewardRecord]) -> dict[str, Any]:
    """Total paid, and paid per rule (seed 000's "incentive amount"), keyed by rule id: a renamed
    rule keeps one total and two rules of one name keep two. Per rule, each paid or recorded
    reward counts its own amount; rewards carried below WeCom Pay's minimum are in
    ``carried_fen``, and the payment they are carried into counts them in ``total_paid_fen``."""
    paid = [r for r in found if r.status in ("paid", "recorded")]
    per_rule: dict[str, int] = {}
    names: dict[str, str] = {}
    for record in paid:
        per_rule[record.rule_id] = per_rule.get(record.rule_id, 0) + record.amount_fen
        names.setdefault(record.rule_id, record.rule_name)  # newest first: the name it has now
    return {
        "total_paid_fen": sum(r.amount_fen + r.carried_in_fen for r in paid),
        "paid_by_rule_fen": per_rule,
        "rule_names": names,
        "carried_fen": sum(r.amount_fen for r in found if r.status == "carried"),
        "records": len(found),
    }
