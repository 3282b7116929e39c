"""The maintained totals of guide rewards: what the records' overview and a guide's earnings show
(records, carried, paid in all and per rule), kept as counters so neither reads the records.

Each reward adds to four items, all in the transaction that writes it (and again in the one that
moves its payout to paid):

- the tenant's, per shard (the reward's, 16) and UTC day of creation
  (``T#<corp>#GUIDE_REWARD_TOTALS#S<n>`` / ``DAY#<day>``): an admin's overview;
- its outlet's, per UTC day (``T#<corp>#GUIDE_REWARD_TOTALS#OUTLET#<outlet>`` / ``DAY#<day>``):
  an outlet filter, and an operator's overview summed over the outlets in their scope;
- its guide's, per UTC day and outlet (``T#<corp>#GUIDE_REWARD_TOTALS#GUIDE#<guide>`` /
  ``DAY#<day>#<outlet>``): a guide filter, with an outlet or within an operator's scope;
- its guide's, per month in the merchant's time zone (the reward's ``month``, the month its rule's
  limit counts in), in the same partition (``MONTH#<yyyy-mm>``): a guide's earnings.

A grant adds the reward (``records``, and ``carried_fen`` when it is carried; ``paid_fen`` and its
rule's ``paid_fen#<rule_id>`` when it is recorded offline at once) in its own transaction; an
online payout adds the paid amounts in the transaction of its move to paid, which writes its
ledger entry once (``storage.payouts``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from incentives.storage import keys
from incentives.storage.table import Item, Table, Update, query_iter

RULE_PAID = "paid_fen#"
"""The prefix of a rule's paid amount (``paid_fen#<rule_id>``)."""
_SUMMED = ("records", "carried_fen", "paid_fen")
_LAST_DAY = "9999"


def _listing(corp_id: str) -> str:
    return keys.collection(corp_id, "GUIDE_REWARD_TOTALS")


def outlet_partition(corp_id: str, outlet_id: str) -> str:
    return f"{_listing(corp_id)}#OUTLET#{outlet_id}"


def guide_partition(corp_id: str, guide_id: str) -> str:
    return f"{_listing(corp_id)}#GUIDE#{guide_id}"


def totals_key(corp_id: str, reward_id: str, created_at: str) -> dict[str, str]:
    return {"pk": keys.listing_partition(_listing(corp_id), reward_id), "sk": f"DAY#{created_at[:10]}"}


def totals_keys(corp_id: str, reward: Mapping[str, Any]) -> list[dict[str, str]]:
    """The counter items a reward adds to (the tenant's shard, its outlet's, its guide's day and month)."""
    day, outlet, guide = str(reward["created_at"])[:10], str(reward.get("outlet_id", "")), reward["guide_id"]
    found = [totals_key(corp_id, str(reward["reward_id"]), str(reward["created_at"]))]
    if outlet:
        found.append({"pk": outlet_partition(corp_id, outlet), "sk": f"DAY#{day}"})
    found.append({"pk": guide_partition(corp_id, guide), "sk": f"DAY#{day}#{outlet}"})
    found.append({"pk": guide_partition(corp_id, guide), "sk": f"MONTH#{reward['month']}"})
    return found


def totals_writes(
    corp_id: str, reward: Mapping[str, Any], *, granted: bool = False, paid: bool = False
) -> list[Update]:
    """The counters a reward adds: once when granted, once when paid (or recorded offline).
    Paid counts its own amount per rule, and with the carried rewards it pays in the total."""
    add: dict[str, int] = {}
    amount = int(reward["amount_fen"])
    if granted:
        add["records"] = 1
        if reward.get("carried"):
            add["carried_fen"] = amount
    if paid:
        add["paid_fen"] = amount + int(reward.get("carried_in_fen", 0))
        add[RULE_PAID + str(reward["rule_id"])] = amount
    return [Update(key, add=add) for key in totals_keys(corp_id, reward)] if add else []


def summed(items: Iterable[Item]) -> dict[str, Any]:
    """Counter items added up: ``records``, ``carried_fen``, ``paid_fen`` and ``paid_by_rule_fen``
    (rule id → paid)."""
    found: dict[str, Any] = dict.fromkeys(_SUMMED, 0)
    per_rule: dict[str, int] = {}
    for item in items:
        for name in _SUMMED:
            found[name] += int(item.get(name, 0))
        for name, value in item.items():
            if name.startswith(RULE_PAID):
                rule_id = name[len(RULE_PAID) :]
                per_rule[rule_id] = per_rule.get(rule_id, 0) + int(value)
    return {**found, "paid_by_rule_fen": {rule: fen for rule, fen in per_rule.items() if fen}}


def _days(table: Table, partition: str, first: str, last: str) -> Iterable[Item]:
    return query_iter(table, partition, sk_at_least=first, sk_at_most=last)


def reward_totals(table: Table, corp_id: str, first_day: str | None, last_day: str | None) -> dict[str, Any]:
    """The tenant's counters summed over the days (UTC, inclusive) of every shard."""
    first, last = f"DAY#{first_day or ''}", f"DAY#{last_day or _LAST_DAY}"
    return summed(
        item
        for shard in keys.listing_partitions(_listing(corp_id))
        for item in _days(table, shard, first, last)
    )


def outlet_totals(
    table: Table, corp_id: str, outlet_ids: Iterable[str], first_day: str | None, last_day: str | None
) -> dict[str, Any]:
    """The counters of the outlets summed over the days (UTC, inclusive): one query an outlet."""
    first, last = f"DAY#{first_day or ''}", f"DAY#{last_day or _LAST_DAY}"
    return summed(
        item for outlet in outlet_ids for item in _days(table, outlet_partition(corp_id, outlet), first, last)
    )


def guide_totals(
    table: Table,
    corp_id: str,
    guide_id: str,
    first_day: str | None,
    last_day: str | None,
    outlet_kept: Callable[[str], bool],
) -> dict[str, Any]:
    """A guide's counters summed over the days (UTC, inclusive) of the outlets ``outlet_kept``
    accepts (the items of a day are per outlet: ``DAY#<day>#<outlet>``)."""
    # "$" sorts after the "#" that ends a day, so the last day's outlets are all in
    first, last = f"DAY#{first_day or ''}", f"DAY#{last_day or _LAST_DAY}$"
    partition = guide_partition(corp_id, guide_id)
    return summed(
        item for item in _days(table, partition, first, last) if outlet_kept(str(item["sk"]).split("#", 2)[2])
    )


def month_earnings(table: Table, corp_id: str, guide_id: str) -> dict[str, int]:
    """A guide's paid (or recorded) amounts per month of creation (merchant time), carried rewards
    counted in the payment that carries them."""
    items = _days(table, guide_partition(corp_id, guide_id), "MONTH#", "MONTH#" + _LAST_DAY)
    return {str(item["sk"])[len("MONTH#") :]: int(item.get("paid_fen", 0)) for item in items}
