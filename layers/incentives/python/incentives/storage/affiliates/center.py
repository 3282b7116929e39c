"""The distribution center's entry points on the table; the figures, records and their rules
are in ``affiliates.distribution`` over ``AffiliateRepository``."""

from __future__ import annotations

from incentives.affiliates import distribution as _distribution
from incentives.affiliates.distribution import (
    CSV_COLUMNS,
    Center,
    CommissionRecord,
    Figures,
    Promotion,
    RecordFilter,
    ShareState,
    Shown,
    figures,
    record,
    share_state,
)
from incentives.storage.affiliates import on_table

center = on_table(_distribution.center)
commission_records = on_table(_distribution.commission_records)
commission_page = on_table(_distribution.commission_page)
commission_totals = on_table(_distribution.commission_totals)
my_commission_page = on_table(_distribution.my_commission_page)
downline = on_table(_distribution.downline)

__all__ = [
    "CSV_COLUMNS",
    "Center",
    "CommissionRecord",
    "Figures",
    "Promotion",
    "RecordFilter",
    "ShareState",
    "Shown",
    "center",
    "commission_page",
    "commission_records",
    "commission_totals",
    "downline",
    "figures",
    "my_commission_page",
    "record",
    "share_state",
]
