"""Every key and index partition of the affiliates area (docs/data-model.md mirrors this file).

Per affiliate, one partition ``T#<corp>#AFFILIATE#<id>`` holds the profile, the running
figures of the distribution center (write-sharded: ``STATS#<shard>`` and ``DAY#<day>#<shard>``,
:data:`FIGURE_SHARDS` of each, summed on read with the unsharded ``STATS`` / ``DAY#<day>`` items
written before the figures were sharded), the store applications and the invited-member
markers. Per customer, the binding and the activity the application conditions are checked
against sit beside the customer's WeCom record. Per order, one partition holds the commission
decision and one share item per role. Listings are sparse indexes: per tenant on ``gsi2``
(:func:`tenant_list`, write-sharded), per affiliate or customer on ``gsi3`` (:func:`own_list`).
"""

from __future__ import annotations

from incentives.storage import keys

Key = dict[str, str]

FIGURE_SHARDS = 8
"""Items each affiliate's running figures and each of their days are spread over: concurrent
orders of one affiliate add to different items (docs/decisions.md)."""


def _t(corp_id: str) -> str:
    return keys.tenant(corp_id)


def settings_key(corp_id: str) -> Key:
    return {"pk": f"{_t(corp_id)}#SETTINGS#AFFILIATES", "sk": "SETTINGS"}


def profile_key(corp_id: str, affiliate_id: str) -> Key:
    return {"pk": f"{_t(corp_id)}#AFFILIATE#{affiliate_id}", "sk": "PROFILE"}


def stats_key(corp_id: str, affiliate_id: str) -> Key:
    return {"pk": f"{_t(corp_id)}#AFFILIATE#{affiliate_id}", "sk": "STATS"}


def day_key(corp_id: str, affiliate_id: str, day: str) -> Key:
    return {"pk": f"{_t(corp_id)}#AFFILIATE#{affiliate_id}", "sk": f"DAY#{day}"}


def figure_shard(spread_by: str) -> int:
    """The shard a figures write lands on (stable for the same ``spread_by``)."""
    return keys.shard(spread_by, FIGURE_SHARDS)


def stats_shard_key(corp_id: str, affiliate_id: str, shard: int) -> Key:
    return {"pk": f"{_t(corp_id)}#AFFILIATE#{affiliate_id}", "sk": f"STATS#{shard}"}


def day_shard_key(corp_id: str, affiliate_id: str, day: str, shard: int) -> Key:
    return {"pk": f"{_t(corp_id)}#AFFILIATE#{affiliate_id}", "sk": f"DAY#{day}#{shard}"}


def stats_keys(corp_id: str, affiliate_id: str) -> list[Key]:
    """Every item the running figures are summed from: the unsharded one, then each shard."""
    shards = [stats_shard_key(corp_id, affiliate_id, shard) for shard in range(FIGURE_SHARDS)]
    return [stats_key(corp_id, affiliate_id), *shards]


def day_keys(corp_id: str, affiliate_id: str, day: str) -> list[Key]:
    shards = [day_shard_key(corp_id, affiliate_id, day, shard) for shard in range(FIGURE_SHARDS)]
    return [day_key(corp_id, affiliate_id, day), *shards]


def store_application_key(corp_id: str, affiliate_id: str, store_id: str) -> Key:
    return {"pk": f"{_t(corp_id)}#AFFILIATE#{affiliate_id}", "sk": f"STORE#{store_id}"}


def invited_member_key(corp_id: str, affiliate_id: str, customer_id: str) -> Key:
    return {"pk": f"{_t(corp_id)}#AFFILIATE#{affiliate_id}", "sk": f"INVITED_MEMBER#{customer_id}"}


def application_key(corp_id: str, customer_id: str) -> Key:
    return {"pk": f"{_t(corp_id)}#AFF_APPLICATION#{customer_id}", "sk": "APPLICATION"}


def activity_key(corp_id: str, customer_id: str) -> Key:
    return {"pk": keys.customer_key(corp_id, customer_id)["pk"], "sk": "ACTIVITY"}


def activity_marker_key(corp_id: str, customer_id: str, source: str) -> Key:
    return {"pk": keys.customer_key(corp_id, customer_id)["pk"], "sk": f"ACT#{source}"}


def bought_key(corp_id: str, customer_id: str, product_id: str) -> Key:
    return {"pk": keys.customer_key(corp_id, customer_id)["pk"], "sk": f"BOUGHT#{product_id}"}


def binding_key(corp_id: str, customer_id: str) -> Key:
    return {"pk": keys.customer_key(corp_id, customer_id)["pk"], "sk": "AFF_BINDING"}


def decision_key(corp_id: str, order_id: str) -> Key:
    return {"pk": f"{_t(corp_id)}#AFF_ORDER#{order_id}", "sk": "DECISION"}


def share_key(corp_id: str, order_id: str, role: str) -> Key:
    return {"pk": f"{_t(corp_id)}#AFF_ORDER#{order_id}", "sk": f"SHARE#{role}"}


TOTALS_SPREAD = 8
"""Items per partition and day of the commission totals (``DAY#<day>#<n>``): 16 × 8 counters a day,
so 1,000 orders a second write each about 8 times a second (one Query per partition reads them)."""


def _totals_item(corp_id: str, order_id: str, sk_head: str) -> Key:
    """An order's commission totals item in its shard's partition: ``<sk_head>#<spread>``."""
    spread = keys.shard(order_id, keys.LISTING_SHARDS * TOTALS_SPREAD) // keys.LISTING_SHARDS
    return {
        "pk": keys.listing_partition(tenant_list(corp_id, "AFF_SHARE_TOTALS"), order_id),
        "sk": f"{sk_head}#{spread}",
    }


def share_totals_key(corp_id: str, order_id: str, paid_at: str) -> Key:
    """The tenant's commission totals of one shard (the order's) and one UTC day of payment:
    counters kept in the transaction that writes or changes a share (16 × 8 items a day, none hot)."""
    return _totals_item(corp_id, order_id, f"DAY#{paid_at[:10]}")


def share_totals_all_key(corp_id: str, order_id: str) -> Key:
    """The tenant's commission totals of all time, of one shard (the order's): kept beside the day
    items by the same transactions, so all-time totals read one page a shard whatever the days."""
    return _totals_item(corp_id, order_id, "ALL")


def share_totals_keys(corp_id: str, order_id: str, paid_at: str) -> list[Key]:
    """The totals an order's commissions move: its day, and the all-time item of its shard."""
    return [share_totals_key(corp_id, order_id, paid_at), share_totals_all_key(corp_id, order_id)]


def share_totals_partitions(corp_id: str) -> list[str]:
    return keys.listing_partitions(tenant_list(corp_id, "AFF_SHARE_TOTALS"))


def withdrawal_key(corp_id: str, withdrawal_id: str) -> Key:
    return keys.affiliate_withdrawal_key(corp_id, withdrawal_id)  # a payout moves its status too


def tenant_list(corp_id: str, name: str) -> str:
    """A tenant-wide listing (index gsi2): AFFILIATES, AFF_APPLICATIONS, AFF_SHARES … Items are
    written to its shards (:func:`tenant_list_shard`), read merged (:func:`tenant_list_shards`)."""
    return f"{_t(corp_id)}#{name}"


def tenant_list_shard(corp_id: str, name: str, identity: str) -> str:
    """The ``gsi2`` partition an item of a tenant-wide listing is written to (by its id)."""
    return keys.listing_partition(tenant_list(corp_id, name), identity)


def tenant_list_shards(corp_id: str, name: str) -> list[str]:
    """Every ``gsi2`` shard of a tenant-wide listing, as ``storage.sharded.merged_page`` reads them."""
    return keys.listing_partitions(tenant_list(corp_id, name))


def own_list(corp_id: str, name: str, affiliate_id: str) -> str:
    """An affiliate's own listing partition (index gsi3): AFF_CUSTOMERS, AFF_DOWNLINE, AFF_SHARES …"""
    return f"{_t(corp_id)}#{name}#{affiliate_id}"
