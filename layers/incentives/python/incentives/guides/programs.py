"""Seed 000 "Incentive list", "Add incentive", "Incentive details": the default templates and
custom rules, versioned (an edit is a new version, effective at once), and the preview of an edit."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from incentives.core.clock import iso_utc, parse_instant
from incentives.core.errors import Conflict, NotFound
from incentives.core.money import Fen
from incentives.guides.ports import GuideRepository, Record, StoredRule
from incentives.guides.rules import (
    CUSTOM_PREFIX,
    TEMPLATES,
    Occurrence,
    PreviewLine,
    RuleVersion,
    month_of,
    preview,
)
from incentives.org.ports import Viewer

MAX_REWARD_FEN = 20_000_000
"""One reward: 200 000 yuan."""
MAX_MONTHLY_LIMIT_FEN = 2_000_000_000


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


def rule_id_for(corp_id: str, behavior: str) -> str:
    """A template's id is its behavior; a custom rule's is derived from the tenant and behavior."""
    if behavior in TEMPLATES:
        return behavior
    return "r" + hashlib.sha256(f"{corp_id}|{behavior}".encode()).hexdigest()[:12]


def _view(rule: StoredRule) -> RuleView:
    current = rule.versions[-1]
    return RuleView(
        rule_id=rule.rule_id,
        name=rule.name,
        behavior=rule.behavior,
        template=rule.template,
        enabled=rule.enabled,
        version=current["version"],
        amount_fen=current["amount_fen"],
        monthly_limit_fen=current.get("monthly_limit_fen"),
        effective_from=current["effective_from"],
        versions=list(rule.versions),
    )


def _version(entry: Record) -> RuleVersion:
    return RuleVersion(
        int(entry["version"]),
        int(entry["amount_fen"]),
        entry.get("monthly_limit_fen"),
        parse_instant(entry["effective_from"]),
    )


def priced_versions(rule: StoredRule) -> list[RuleVersion]:
    """The versions occurrences are priced by. A template's first version is the placeholder made
    with the settings (amount 0, disabled) until the merchant configures it: once configured, an
    occurrence older than the configuration takes the first configured version, as for custom rules."""
    versions = [_version(entry) for entry in rule.versions]
    if rule.template and len(versions) > 1 and versions[0].amount_fen == 0:
        return versions[1:]
    return versions


def _first_version(amount_fen: int, monthly_limit_fen: int | None, now: datetime) -> Record:
    return {
        "version": 1,
        "amount_fen": amount_fen,
        "monthly_limit_fen": monthly_limit_fen,
        "effective_from": iso_utc(now),
    }


def ensure_templates(repo: GuideRepository, corp_id: str, now: datetime) -> None:
    """The default templates exist from the start, disabled and at zero until configured."""
    for behavior, name in TEMPLATES.items():
        repo.add_rule(
            corp_id, StoredRule(behavior, name, behavior, True, False, (_first_version(0, None, now),))
        )


def list_rules(repo: GuideRepository, corp_id: str, now: datetime) -> list[RuleView]:
    ensure_templates(repo, corp_id, now)
    return [_view(rule) for rule in sorted(repo.rules(corp_id), key=lambda r: (not r.template, r.rule_id))]


def get_rule(repo: GuideRepository, corp_id: str, rule_id: str, now: datetime | None = None) -> StoredRule:
    rule = repo.rule(corp_id, rule_id)
    if rule is None and rule_id in TEMPLATES and now is not None:
        ensure_templates(repo, corp_id, now)
        rule = repo.rule(corp_id, rule_id)
    if rule is None:
        raise NotFound(f"no incentive rule {rule_id}", field="rule_id")
    return rule


def rule_view(repo: GuideRepository, corp_id: str, rule_id: str, now: datetime) -> RuleView:
    return _view(get_rule(repo, corp_id, rule_id, now))


def create_custom_rule(repo: GuideRepository, corp_id: str, rule: RuleInput, now: datetime) -> RuleView:
    behavior = CUSTOM_PREFIX + rule.behavior
    rule_id = rule_id_for(corp_id, behavior)
    first = _first_version(rule.amount_fen, rule.monthly_limit_fen, now)
    if not repo.add_rule(corp_id, StoredRule(rule_id, rule.name, behavior, False, rule.enabled, (first,))):
        raise Conflict(f"a rule for behavior {rule.behavior} exists", field="behavior")
    return _view(get_rule(repo, corp_id, rule_id))


def edit_rule(repo: GuideRepository, corp_id: str, rule_id: str, edit: RuleEdit, now: datetime) -> RuleView:
    """A new version, effective at once; granted rewards are never altered."""
    rule = get_rule(repo, corp_id, rule_id, now)
    version = {
        "version": len(rule.versions) + 1,
        "amount_fen": edit.amount_fen,
        "monthly_limit_fen": edit.monthly_limit_fen,
        "effective_from": iso_utc(now),
    }
    edited = StoredRule(
        rule.rule_id,
        edit.name or rule.name,
        rule.behavior,
        rule.template,
        rule.enabled,
        (*rule.versions, version),
    )
    repo.save_rule(corp_id, edited)
    return _view(get_rule(repo, corp_id, rule_id))


def set_enabled(repo: GuideRepository, corp_id: str, rule_id: str, enabled: bool, now: datetime) -> RuleView:
    rule = get_rule(repo, corp_id, rule_id, now)
    repo.set_rule_enabled(corp_id, rule_id, enabled)
    return _view(StoredRule(rule.rule_id, rule.name, rule.behavior, rule.template, enabled, rule.versions))


def preview_edit(
    repo: GuideRepository, principal: Viewer, rule_id: str, edit: RuleEdit, now: datetime, time_zone: str
) -> list[PreviewLine]:
    """What this month's occurrences would have produced under ``edit``, next to what they produced.

    Lines cover only the occurrences in the principal's scope (the guide's department when it
    happened; occurrences recorded without one take the guide's current department).
    """
    corp_id = principal.corp_id
    get_rule(repo, corp_id, rule_id, now)
    items = repo.occurrences(corp_id, rule_id, month_of(now, time_zone))
    current: dict[str, Record] = {}
    if any("dept_path" not in item for item in items):
        current = repo.guides(corp_id)
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
