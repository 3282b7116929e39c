"""Keys of the single table that more than one repository shares, and those of the areas whose
repositories live in ``storage/orders.py``, ``storage/guides.py``, ``storage/org.py`` and
``storage/tags.py`` (docs/data-model.md mirrors this file).

The ledger (``storage/ledger.py``), payouts (``storage/payouts.py``), affiliate levels
(``storage/levels.py``) and the affiliates area still build their own keys in their modules.

Every partition key starts with the tenant (``T#<corp_id>``) so no query can cross tenants;
the only cross-tenant access is the scheduled jobs' sharded due index (``storage/due.py``),
which carries the tenant in its sort key and hands each entry back to that tenant's aggregate.
"""

from __future__ import annotations

import zlib

SHARDS = 8
"""Partitions of every sharded ``gsi1`` work queue."""
WINDOW_INDEX = "gsi1"
WINDOW_INDEX_SHARDS = SHARDS
COLLECTION_INDEX = "gsi2"
"""``T#<corp>#<collection>`` → the members of a tenant's collection (departments, guides, rules, tags …)."""
GUIDE_REWARDS_INDEX = "gsi3"


def tenant(corp_id: str) -> str:
    return f"T#{corp_id}"


def shard(identity: str, shards: int = SHARDS) -> int:
    """The shard of ``identity`` in a sharded queue: spreads one queue over a few partitions so
    the index never has one hot key."""
    return zlib.crc32(identity.encode()) % shards


LISTING_SHARDS = 16
"""Write shards of every tenant-wide listing partition (``<listing>#S<n>``): a tenant's burst of
writes spreads over 16 index keys instead of landing on one (docs/data-model.md, "Sharded listings")."""


def listing_partition(listing: str, identity: str) -> str:
    """The shard of a tenant-wide listing partition an item with ``identity`` is written to (a
    stable hash of its id, so every write of one item lands on the same shard)."""
    return f"{listing}#S{shard(identity, LISTING_SHARDS)}"


def listing_partitions(listing: str) -> list[str]:
    """Every shard of a tenant-wide listing partition, in shard order (what a listing merges)."""
    return [f"{listing}#S{number}" for number in range(LISTING_SHARDS)]


def collection(corp_id: str, name: str) -> str:
    """The ``gsi2`` partition listing a tenant's ``name`` collection."""
    return f"{tenant(corp_id)}#{name}"


# --- orders and events ----------------------------------------------------------------------------


def order_key(corp_id: str, order_id: str) -> dict[str, str]:
    return {"pk": f"{tenant(corp_id)}#ORDER#{order_id}", "sk": "STATE"}


def raw_event_key(corp_id: str, event_id: str) -> dict[str, str]:
    return {"pk": f"{tenant(corp_id)}#EVENT#{event_id}", "sk": "RAW"}


def event_chunk_key(corp_id: str, event_id: str, body_sha256: str, index: int) -> dict[str, str]:
    """One chunk of a large webhook body, beside its raw event: named by the body's hash and the
    chunk's position, so the same body always lands on the same items."""
    return {"pk": f"{tenant(corp_id)}#EVENT#{event_id}", "sk": f"CHUNK#{body_sha256[:32]}#{index:03d}"}


# --- customers (bound by WeCom callbacks, read and edited by guides) -------------------------------


def customer_key(corp_id: str, customer_id: str) -> dict[str, str]:
    """A customer (their WeChat unionid) and their binding to a guide and an outlet."""
    return {"pk": f"{tenant(corp_id)}#CUSTOMER#{customer_id}", "sk": "CUSTOMER"}


def guide_customers(corp_id: str, guide_id: str) -> str:
    """The ``gsi2`` partition of a guide's customers."""
    return collection(corp_id, f"GUIDE_CUSTOMERS#{guide_id}")


def contact_way_key(corp_id: str, state: str) -> dict[str, str]:
    """A Contact-Me QR code, by the ``state`` its scans carry."""
    return {"pk": f"{tenant(corp_id)}#CONTACT_WAY#{state}", "sk": "CONTACT_WAY"}


def external_key(corp_id: str, external_user_id: str) -> dict[str, str]:
    """WeCom's external userid → our customer id."""
    return {"pk": f"{tenant(corp_id)}#EXTERNAL#{external_user_id}", "sk": "EXTERNAL"}


def outlet_customers_key(corp_id: str, outlet_id: str) -> dict[str, str]:
    """How many customers an outlet has (active bindings), kept apart from the synchronised outlet."""
    return {"pk": f"{tenant(corp_id)}#OUTLET_CUSTOMERS#{outlet_id}", "sk": "COUNT"}


# --- the organization (storage/org.py) -------------------------------------------------------------


def dept_key(corp_id: str, dept_id: str) -> dict[str, str]:
    return {"pk": f"{tenant(corp_id)}#DEPT#{dept_id}", "sk": "DEPT"}


def guide_key(corp_id: str, user_id: str) -> dict[str, str]:
    return {"pk": f"{tenant(corp_id)}#GUIDE#{user_id}", "sk": "GUIDE"}


def _settings(corp_id: str, name: str, sk: str = "SETTINGS") -> dict[str, str]:
    return {"pk": f"{tenant(corp_id)}#SETTINGS#{name}", "sk": sk}


def org_sync_status_key(corp_id: str) -> dict[str, str]:
    return _settings(corp_id, "ORG_SYNC", "STATUS")


def data_nodes_key(corp_id: str) -> dict[str, str]:
    """The intermediate level's name and its data nodes (stored as ``ORG_LEVELS`` since the start)."""
    return _settings(corp_id, "ORG_LEVELS")


def guide_permissions_key(corp_id: str) -> dict[str, str]:
    return _settings(corp_id, "GUIDE_PERMISSIONS")


# --- guide incentives (storage/guides.py) ----------------------------------------------------------


def guide_incentive_settings_key(corp_id: str) -> dict[str, str]:
    return {"pk": f"{tenant(corp_id)}#SETTINGS#GUIDE_INCENTIVES", "sk": "SETTINGS"}


def guide_rule_key(corp_id: str, rule_id: str) -> dict[str, str]:
    return {"pk": f"{tenant(corp_id)}#GUIDE_RULE#{rule_id}", "sk": "RULE"}


def guide_rewards_listing(corp_id: str) -> str:
    """The tenant's guide rewards by creation time (``gsi2``, write-sharded by reward id)."""
    return collection(corp_id, "GUIDE_REWARDS")


def guide_reward_key(corp_id: str, reward_id: str) -> dict[str, str]:
    return {"pk": f"{tenant(corp_id)}#GUIDE_REWARD#{reward_id}", "sk": "REWARD"}


def guide_usage_key(corp_id: str, guide_id: str, rule_id: str, month: str, version: int) -> dict[str, str]:
    """What a guide was granted under one rule version in one month (its monthly limit)."""
    return {"pk": f"{tenant(corp_id)}#GUIDE_USAGE#{guide_id}#{rule_id}#{month}", "sk": f"V#{version:04d}"}


def guide_carry_key(corp_id: str, guide_id: str) -> dict[str, str]:
    """Rewards too small to pay alone online, waiting for the guide's next online payment."""
    return {"pk": f"{tenant(corp_id)}#GUIDE_CARRY#{guide_id}", "sk": "CARRY"}


def guide_occurrences(corp_id: str, rule_id: str, month: str) -> str:
    """The partition of a rule's occurrences in one month (what a rule edit previews)."""
    return f"{tenant(corp_id)}#GUIDE_OCC#{rule_id}#{month}"


def guide_occurrence_key(corp_id: str, rule_id: str, month: str, at_iso: str, source: str) -> dict[str, str]:
    return {"pk": guide_occurrences(corp_id, rule_id, month), "sk": f"{at_iso}#{source}"}


# --- payouts (storage/payouts.py) ----------------------------------------------------------------


def payouts_listing(corp_id: str, status: str | None = None) -> str:
    """The tenant's payouts by creation time: every one (``gsi3``) or those in one ``status``
    (``gsi2``), both write-sharded by payout id."""
    return f"{tenant(corp_id)}#PAYOUTS" + (f"#{status}" if status else "")


# --- affiliate withdrawals, listed by the status they show (storage/affiliates, storage/payouts) ---

WITHDRAWAL_STATUS_INDEX = "gsi1"
"""Withdrawals by the status they show (``AFF_WITHDRAWALS_BY_STATUS#<status>#S<n>``, newest first):
the index projects keys only, so a page reads its withdrawals in one BatchGetItem."""


def affiliate_withdrawal_key(corp_id: str, withdrawal_id: str) -> dict[str, str]:
    return {"pk": f"{tenant(corp_id)}#AFF_WITHDRAWAL#{withdrawal_id}", "sk": "WITHDRAWAL"}


def withdrawals_by_status(corp_id: str, status: str) -> str:
    """The tenant's withdrawals showing ``status`` (``gsi1``, write-sharded by withdrawal id)."""
    return f"{tenant(corp_id)}#AFF_WITHDRAWALS_BY_STATUS#{status}"


def withdrawal_status_attributes(corp_id: str, withdrawal_id: str, status: str) -> dict[str, str]:
    """What lists a withdrawal under the status it shows (its own, or its payout's progress while
    it pays): set by every write that moves that status, the withdrawal's and its payout's."""
    partition = listing_partition(withdrawals_by_status(corp_id, status), withdrawal_id)
    return {"listed_status": status, "gsi1pk": partition}


# --- the tag library (storage/tags.py) -------------------------------------------------------------


def tag_group_key(corp_id: str, group_id: str) -> dict[str, str]:
    return {"pk": f"{tenant(corp_id)}#TAG_GROUP#{group_id}", "sk": "GROUP"}


def tag_key(corp_id: str, tag_id: str) -> dict[str, str]:
    return {"pk": f"{tenant(corp_id)}#TAG#{tag_id}", "sk": "TAG"}


# --- the platform subsidy (storage/subsidy.py) ----------------------------------------------------


def subsidy_campaigns(corp_id: str) -> str:
    """The partition of a tenant's subsidy campaigns (one query lists them all)."""
    return f"{tenant(corp_id)}#SUBSIDY#CAMPAIGNS"


def subsidy_campaign_key(corp_id: str, campaign_id: str) -> dict[str, str]:
    return {"pk": subsidy_campaigns(corp_id), "sk": f"CAMPAIGN#{campaign_id}"}


def subsidy_calendar_key(corp_id: str) -> dict[str, str]:
    """The tenant's campaign calendar: a version every campaign write moves, so two writes that
    each checked the windows against the same campaigns cannot both land."""
    return {"pk": subsidy_campaigns(corp_id), "sk": "CALENDAR"}


def subsidy_case_key(corp_id: str, order_id: str) -> dict[str, str]:
    """One WeChat Store order's subsidy case."""
    return {"pk": f"{tenant(corp_id)}#SUBSIDY#ORDER#{order_id}", "sk": "CASE"}


def subsidy_day(corp_id: str, day: str) -> str:
    """gsi2: the cases of orders paid on one day (merchant time), for the day's expectations."""
    return f"{tenant(corp_id)}#SUBSIDY#DAY#{day}"


def subsidy_campaign_cases(corp_id: str, campaign_id: str) -> str:
    """gsi3: a campaign's cases by paid day, for the report."""
    return f"{tenant(corp_id)}#SUBSIDY#CAMPAIGN#{campaign_id}"
