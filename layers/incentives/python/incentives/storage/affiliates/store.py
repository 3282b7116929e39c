"""The program's settings on the table, and the affiliate keys, for the callers that use them here.

Keys, indexes and items of the affiliates area are built in ``incentives.storage.affiliates``
alone (docs/data-model.md); the names below are that module's, re-exported.
"""

from __future__ import annotations

from datetime import datetime

from incentives.affiliates.commission import account
from incentives.affiliates.program import ProgramSettings
from incentives.storage.affiliates import TableAffiliates
from incentives.storage.affiliates.keys import (
    activity_key,
    activity_marker_key,
    application_key,
    binding_key,
    bought_key,
    day_key,
    decision_key,
    invited_member_key,
    own_list,
    profile_key,
    settings_key,
    share_key,
    stats_key,
    store_application_key,
    tenant_list,
    withdrawal_key,
)
from incentives.storage.table import Table, query_all


def load_settings(table: Table, corp_id: str) -> ProgramSettings:
    return TableAffiliates(table).settings(corp_id)


def save_settings(table: Table, corp_id: str, settings: ProgramSettings, now: datetime) -> None:
    TableAffiliates(table).save_settings(corp_id, settings, now)


__all__ = [
    "account",
    "activity_key",
    "activity_marker_key",
    "application_key",
    "binding_key",
    "bought_key",
    "day_key",
    "decision_key",
    "invited_member_key",
    "load_settings",
    "own_list",
    "profile_key",
    "query_all",
    "save_settings",
    "settings_key",
    "share_key",
    "stats_key",
    "store_application_key",
    "tenant_list",
    "withdrawal_key",
]
