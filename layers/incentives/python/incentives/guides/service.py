"""Guide incentive programs (seed 000) where handlers and consumers import them: settings
(``settings``), versioned rules (``programs``), granting rewards once (``grant``), records and
earnings (``records``)."""

from __future__ import annotations

from incentives.guides.grant import MAX_ATTEMPTS, GuideEffects, grant
from incentives.guides.programs import (
    MAX_MONTHLY_LIMIT_FEN,
    MAX_REWARD_FEN,
    RuleEdit,
    RuleInput,
    RuleView,
    create_custom_rule,
    edit_rule,
    ensure_templates,
    get_rule,
    list_rules,
    preview_edit,
    rule_view,
    set_enabled,
)
from incentives.guides.records import (
    PAYOUT_TO_RECORD,
    Earnings,
    RecordQuery,
    RewardRecord,
    carried,
    every_record,
    maintained_earnings,
    maintained_overview,
    overview,
    records_page,
)
from incentives.guides.settings import IncentiveSettings, load_settings, save_settings

__all__ = [
    "MAX_ATTEMPTS",
    "MAX_MONTHLY_LIMIT_FEN",
    "MAX_REWARD_FEN",
    "PAYOUT_TO_RECORD",
    "Earnings",
    "GuideEffects",
    "IncentiveSettings",
    "RecordQuery",
    "RewardRecord",
    "RuleEdit",
    "RuleInput",
    "RuleView",
    "carried",
    "create_custom_rule",
    "edit_rule",
    "ensure_templates",
    "every_record",
    "get_rule",
    "grant",
    "list_rules",
    "load_settings",
    "maintained_earnings",
    "maintained_overview",
    "overview",
    "preview_edit",
    "records_page",
    "rule_view",
    "save_settings",
    "set_enabled",
]
