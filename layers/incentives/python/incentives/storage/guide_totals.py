"""The tenant's maintained totals of guide rewards: what the records' overview shows (records,
carried, paid in all and per rule), kept as counters so the overview never reads the records.

One item per shard (the reward's, 16) and UTC day of the reward's creation
(``T#<corp>#GUIDE_REWARD_TOTALS#S<n>`` / ``DAY#<day>``). A grant adds the reward (``records``, and
``carried_fen`` when it is carried; ``paid_fen`` and its rule's ``paid_fen#<rule_id>`` when it is
recorded offline at once) in its own transaction; an online payout adds the paid amounts in the
transaction of its move to paid, which writes its ledger entry once (``storage.payouts``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from incentives.storage import keys
from incentives.storage.table import Table, Update

RULE_PAID = "paid_fen#"
"""The prefix of a rule's paid amount (``paid_fen#<rule_id>``)."""
_SUMMED = ("records", "carried_fen", "paid_fen")


def _listing(corp_id: str) -> str:
    return keys.collection(corp_id, "GUIDE_REWARD_TOTALS")


def totals_key(corp_id: str, reward_id: str, created_at: str) -> dict[str, str]:
    return {"pk": keys.listing_partition(_listing(corp_id), reward_id), "sk": f"DAY#{created_at[:10]}"}


def totals_write(
    corp_id: str, reward: Mapping[str, Any], *, granted: bool = False, paid: bool = False
) -> Update:
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
    return Update(totals_key(corp_id, str(reward["reward_id"]), str(reward["created_at"])), add=add)


def reward_totals(table: Table, corp_id: str, first_day: str | None, last_day: str | None) -> dict[str, Any]:
    """The counters summed over the days (UTC, inclusive) of every shard: ``records``,
    ``carried_fen``, ``paid_fen`` and ``paid_by_rule_fen`` (rule id → paid)."""
    found: dict[str, Any] = dict.fromkeys(_SUMMED, 0)
    per_rule: dict[str, int] = {}
    for partition in keys.listing_partitions(_listing(corp_id)):
        cursor = None
        while True:
            page = table.query(
                partition,
                sk_at_least=f"DAY#{first_day or ''}",
                sk_at_most=f"DAY#{last_day or '9999'}",
                limit=500,
                cursor=cursor,
            )
            for item in page.items:
                for name in _SUMMED:
                    found[name] += int(item.get(name, 0))
                for name, value in item.items():
                    if name.startswith(RULE_PAID):
                        rule_id = name[len(RULE_PAID) :]
                        per_rule[rule_id] = per_rule.get(rule_id, 0) + int(value)
            cursor = page.cursor
            if cursor is None:
                break
    return {**found, "paid_by_rule_fen": {rule: fen for rule, fen in per_rule.items() if fen}}
