"""Membership's entry points on the table (seed 001 §2.2, seed 003): becoming an affiliate,
promotable stores, profiles and customers' activity.

The rules live in ``affiliates.joining``, ``affiliates.promotion``, ``affiliates.profiles`` and
``affiliates.activity`` over ``AffiliateRepository``; the functions here are those same services
called with a table, as the handlers and the event processor call them.
"""

from __future__ import annotations

from incentives.affiliates import activity as _activity
from incentives.affiliates import joining as _joining
from incentives.affiliates import profiles as _profiles
from incentives.affiliates import promotion as _promotion
from incentives.affiliates.joining import OPENID, ApplicationInput, application_view
from incentives.affiliates.profiles import (
    ProfileChange,
    approved_stores,
    profile_view,
    promotable_stores,
    promoter,
)
from incentives.storage.affiliates import on_table

profile = on_table(_profiles.profile)
require_profile = on_table(_profiles.require_profile)
chain_of = on_table(_profiles.chain_of)
change_profile = on_table(_profiles.change_profile)
affiliates = on_table(_profiles.affiliates_of)
affiliates_page = on_table(_profiles.affiliates_page)

activity = on_table(_activity.activity)
eligibility = on_table(_activity.eligibility)
record_order = on_table(_activity.record_order)
affiliate_since = on_table(_activity.affiliate_since)
record_recharge = on_table(_activity.record_recharge)
record_profile = on_table(_activity.record_profile)
record_member = on_table(_activity.record_member)

submit_application = on_table(_joining.submit_application)
review_application = on_table(_joining.review_application)
applications = on_table(_joining.applications)
applications_page = on_table(_joining.applications_page)
my_application = on_table(_joining.my_application)

apply_for_store = on_table(_promotion.apply_for_store)
review_store = on_table(_promotion.review_store)
store_applications = on_table(_promotion.store_applications)
store_applications_page = on_table(_promotion.store_applications_page)

__all__ = [
    "OPENID",
    "ApplicationInput",
    "ProfileChange",
    "activity",
    "affiliate_since",
    "affiliates",
    "affiliates_page",
    "application_view",
    "applications",
    "applications_page",
    "apply_for_store",
    "approved_stores",
    "chain_of",
    "change_profile",
    "eligibility",
    "my_application",
    "profile",
    "profile_view",
    "promotable_stores",
    "promoter",
    "record_member",
    "record_order",
    "record_profile",
    "record_recharge",
    "require_profile",
    "review_application",
    "review_store",
    "store_applications",
    "store_applications_page",
    "submit_application",
]
