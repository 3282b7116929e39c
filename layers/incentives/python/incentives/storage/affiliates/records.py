"""The items and writes of the affiliates area: each change of ``incentives.affiliates.ports`` as
the table writes that make it (keys, index attributes, item kinds and conditions)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from incentives.affiliates import ports
from incentives.core.clock import iso_utc, parse_instant
from incentives.storage import keys as table_keys
from incentives.storage import level_items as level_storage
from incentives.storage.affiliates import keys
from incentives.storage.ledger import LedgerRepository, posting_writes
from incentives.storage.orders import order_put
from incentives.storage.payouts import PayoutRepository
from incentives.storage.table import Equals, Exists, NotExists, Put, Update, Write

KEY_ATTRIBUTES = frozenset({"pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk"})


def record(item: dict[str, Any] | None) -> ports.Record | None:
    """An item as the services see it: its attributes, without keys and index attributes."""
    if item is None:
        return None
    return {name: value for name, value in item.items() if name not in KEY_ATTRIBUTES}


def _storable(answers: dict[str, Any]) -> dict[str, Any]:
    """Answers as DynamoDB keeps them: a fractional number as a Decimal (it refuses floats)."""
    return {
        key: Decimal(repr(value)) if isinstance(value, float) else value for key, value in answers.items()
    }


def activity_counted(corp_id: str, change: ports.ActivityCounted) -> list[Write]:
    """The marker first (its ``NotExists`` makes the count happen once), then the counters."""
    return [
        Put(
            {
                **keys.activity_marker_key(corp_id, change.customer_id, change.source),
                "kind": "activity_marker",
                "at": iso_utc(change.at),
            },
            (NotExists(),),
        ),
        Update(
            keys.activity_key(corp_id, change.customer_id),
            add=dict(change.add),
            set={"kind": "customer_activity"},
        ),
    ]


def products_bought(corp_id: str, change: ports.ProductsBought) -> list[Write]:
    """Plain puts: writing them again changes nothing."""
    return [
        Put(
            {
                **keys.bought_key(corp_id, change.customer_id, product),
                "kind": "bought",
                "order_id": change.order_id,
            }
        )
        for product in change.product_ids
    ]


def figures_added(corp_id: str, change: ports.FiguresAdded) -> list[Write]:
    """Adds to one shard of the running figures and of the day (:func:`merged_figures` sums them)."""
    shard = keys.figure_shard(change.spread_by or iso_utc(change.at))
    writes: list[Write] = []
    if change.counters:
        writes.append(
            Update(
                keys.stats_shard_key(corp_id, change.affiliate_id, shard),
                add=dict(change.counters),
                set={"kind": "affiliate_stats", "updated_at": iso_utc(change.at)},
            )
        )
    if change.day is not None and change.day_counters:
        writes.append(
            Update(
                keys.day_shard_key(corp_id, change.affiliate_id, change.day, shard),
                add=dict(change.day_counters),
                set={"kind": "affiliate_day", "day": change.day},
            )
        )
    return writes


def merged_figures(items: list[dict[str, Any] | None]) -> ports.Record:
    """The figures' items as one record: counters summed, the latest ``updated_at``, other
    attributes as any item has them."""
    merged: dict[str, Any] = {}
    for found in (record(item) for item in items):
        for name, value in (found or {}).items():
            if isinstance(value, int) and not isinstance(value, bool):
                merged[name] = merged.get(name, 0) + value
            elif name == "updated_at":
                merged[name] = max(merged.get(name, value), value)
            else:
                merged.setdefault(name, value)
    return merged


def application_submitted(corp_id: str, change: ports.ApplicationSubmitted) -> list[Write]:
    app = change.record
    item = {
        **keys.application_key(corp_id, app["customer_id"]),
        "kind": "affiliate_application",
        **app,
        "answers": _storable(app.get("answers", {})),
        "gsi2pk": keys.tenant_list_shard(corp_id, "AFF_APPLICATIONS", app["customer_id"]),
        "gsi2sk": f"{app['submitted_at']}#{app['customer_id']}",
    }
    guard = (
        NotExists()
        if change.replaces_submitted_at is None
        else Equals("submitted_at", change.replaces_submitted_at)
    )
    return [Put(item, (guard,))]


def affiliate_joined(corp_id: str, change: ports.AffiliateJoined) -> list[Write]:
    """The profile (once) and the new affiliate's standing at the default level."""
    profile = change.record
    affiliate_id, joined_at = profile["affiliate_id"], profile["joined_at"]
    item: dict[str, Any] = {
        **keys.profile_key(corp_id, affiliate_id),
        "kind": "affiliate",
        **profile,
        "version": 1,
        "gsi2pk": keys.tenant_list_shard(corp_id, "AFFILIATES", affiliate_id),
        "gsi2sk": f"{joined_at}#{affiliate_id}",
    }
    if profile.get("upline_id"):
        item["gsi3pk"] = keys.own_list(corp_id, "AFF_DOWNLINE", profile["upline_id"])
        item["gsi3sk"] = f"{joined_at}#{affiliate_id}"
    level = level_storage.initial_change(affiliate_id, parse_instant(joined_at), change.levels)
    return [Put(item, (NotExists(),)), *level_storage.joining_writes(corp_id, affiliate_id, level)]


def store_applied(corp_id: str, change: ports.StoreApplied) -> list[Write]:
    app = change.record
    return [
        Put(
            {
                **keys.store_application_key(corp_id, app["affiliate_id"], app["store_id"]),
                "kind": "store_application",
                **app,
                "gsi2pk": keys.tenant_list_shard(
                    corp_id, "AFF_STORE_APPLICATIONS", f"{app['affiliate_id']}#{app['store_id']}"
                ),
                "gsi2sk": f"{app['submitted_at']}#{app['affiliate_id']}#{app['store_id']}",
            }
        )
    ]


def binding_saved(corp_id: str, change: ports.BindingSaved) -> list[Write]:
    binding = change.record
    item: dict[str, Any] = {
        **keys.binding_key(corp_id, binding["customer_id"]),
        "kind": "affiliate_binding",
        **binding,
        "version": change.expected_version + 1,
    }
    if binding.get("current_affiliate_id"):
        item["gsi3pk"] = keys.own_list(corp_id, "AFF_CUSTOMERS", binding["current_affiliate_id"])
        item["gsi3sk"] = f"{binding['bound_at']}#{binding['customer_id']}"
    guard = NotExists() if change.expected_version == 0 else Equals("version", change.expected_version)
    return [Put(item, (guard,))]


def commission_decided(
    corp_id: str, change: ports.CommissionDecided, ledger: LedgerRepository
) -> list[Write]:
    """The decision (``attribute_not_exists``: made once, or in place of the decision that
    attributed the order to nobody), each share with its credit's hold, then the credits."""
    order, decision = change.order, change.decision
    paid_at = iso_utc(order.paid_at)
    item: dict[str, Any] = {
        **keys.decision_key(corp_id, order.order_id),
        "kind": "commission_decision",
        "order_id": order.order_id,
        "customer_id": order.customer_id,
        "affiliate_id": decision.affiliate_id,
        "reason": decision.reason,
        "roles": [share.role.value for share in decision.shares],
        "paid_at": paid_at,
        "decided_at": iso_utc(change.decided_at),
        "beneficiaries": sorted({share.beneficiary_id for share in decision.shares}),
        "buyer_affiliate_id": change.buyer_affiliate_id,
        "level_rank": change.level_rank,
        "level_rate_bp": change.level_rate_bp,
    }
    if decision.awaits_binding:
        item["gsi3pk"] = keys.own_list(corp_id, "AFF_UNATTRIBUTED", order.customer_id)
        item["gsi3sk"] = f"{paid_at}#{order.order_id}"
    elif change.replaces_decided_at is not None:  # attributed by a late click: followed again by later ones
        item["gsi3pk"] = keys.own_list(corp_id, "AFF_LATE_ATTRIBUTED", order.customer_id)
        item["gsi3sk"] = f"{paid_at}#{order.order_id}"
    guard = (
        NotExists()
        if change.replaces_decided_at is None
        else Equals("decided_at", change.replaces_decided_at)
    )
    writes: list[Write] = [Put(item, (guard,))]
    payable = sum(line.payable_fen for line in order.lines)
    for share, credit in zip(decision.shares, change.credits, strict=True):
        key = keys.share_key(corp_id, order.order_id, share.role.value)
        writes.append(Put(_share_item(corp_id, change, share, payable, key), (NotExists(),)))
        writes += ledger.open_hold(credit, None, record_key=(key["pk"], key["sk"]))
    if decision.shares:  # one totals item per order (its shard, its day): one update for every share
        amount = sum(share.amount_fen for share in decision.shares)
        counters = {"records": len(decision.shares), "commission_fen": amount, "net_fen": amount}
        writes += _totals_updates(corp_id, order.order_id, paid_at, counters)
    return [*writes, *posting_writes(list(change.credits), order.paid_at)]


def _totals_updates(corp_id: str, order_id: str, paid_at: str, counters: dict[str, int]) -> list[Write]:
    return [
        Update(key, add=counters, set={"kind": "commission_totals"})
        for key in keys.share_totals_keys(corp_id, order_id, paid_at)
    ]


def _share_item(
    corp_id: str, change: ports.CommissionDecided, share: Any, payable: int, key: dict[str, str]
) -> dict[str, Any]:
    order = change.order
    paid_at = iso_utc(order.paid_at)
    return {
        **key,
        "kind": "commission_share",
        "order_id": order.order_id,
        "role": share.role.value,
        "beneficiary_id": share.beneficiary_id,
        "affiliate_id": change.decision.affiliate_id,
        "customer_id": order.customer_id,
        "store_id": order.store_id,
        "group_buy": order.is_group_buy,
        "paid_at": paid_at,
        "payable_fen": payable,
        "paid_fen": sum(line.paid_fen for line in order.lines),
        "lines": [line.__dict__ for line in share.lines],
        "amount_fen": share.amount_fen,
        "reversed_fen": 0,
        "clawed_back_fen": 0,
        "refunds": {},
        "version": 1,
        "completed_at": None,
        "hold_until": None,
        "settled_at": None,
        "gsi2pk": keys.tenant_list_shard(corp_id, "AFF_SHARES", order.order_id),
        "gsi2sk": f"{paid_at}#{order.order_id}#{share.role.value}",
        "gsi3pk": keys.own_list(corp_id, "AFF_SHARES", share.beneficiary_id),
        "gsi3sk": f"{paid_at}#{order.order_id}#{share.role.value}",
    }


def withdrawal_requested(corp_id: str, change: ports.WithdrawalRequested) -> list[Write]:
    withdrawal = change.record
    wid, affiliate_id, at = (
        withdrawal["withdrawal_id"],
        withdrawal["affiliate_id"],
        withdrawal["requested_at"],
    )
    item = {
        **keys.withdrawal_key(corp_id, wid),
        "kind": "affiliate_withdrawal",
        **withdrawal,
        "gsi2pk": keys.tenant_list_shard(corp_id, "AFF_WITHDRAWALS", wid),
        "gsi2sk": f"{at}#{wid}",
        "gsi3pk": keys.own_list(corp_id, "AFF_WITHDRAWALS", affiliate_id),
        "gsi3sk": f"{at}#{wid}",
        **table_keys.withdrawal_status_attributes(corp_id, wid, withdrawal["status"]),
        "gsi1sk": f"{at}#{wid}",
    }
    return [Put(item, (NotExists(),))]


def writes_of(corp_id: str, change: ports.Change, ledger: LedgerRepository) -> list[Write]:
    """The table writes of one change."""
    match change:
        case ports.ActivityCounted():
            return activity_counted(corp_id, change)
        case ports.ActivitySet():
            return [
                Update(
                    keys.activity_key(corp_id, change.customer_id),
                    set={"kind": "customer_activity", **change.values},
                )
            ]
        case ports.ProductsBought():
            return products_bought(corp_id, change)
        case ports.FiguresAdded():
            return figures_added(corp_id, change)
        case ports.LevelFigures():
            return level_storage.contribution_writes(corp_id, change.delta, change.trigger)
        case ports.LevelSource():
            return level_storage.source_writes(corp_id, change.previous, change.target, change.trigger)
        case ports.InvitedMember():
            item = {
                **keys.invited_member_key(corp_id, change.inviter, change.customer_id),
                "kind": "invited_member",
                "registered_at": iso_utc(change.registered_at),
            }
            return [Put(item, (NotExists(),))]
        case ports.ApplicationSubmitted():
            return application_submitted(corp_id, change)
        case ports.ApplicationReviewed():
            return [
                Update(
                    keys.application_key(corp_id, change.customer_id),
                    set=dict(change.changes),
                    conditions=(Equals("status", "pending_review"),),
                )
            ]
        case ports.AffiliateJoined():
            return affiliate_joined(corp_id, change)
        case ports.StoreApplied():
            return store_applied(corp_id, change)
        case ports.StoreReviewed():
            key = keys.store_application_key(corp_id, change.affiliate_id, change.store_id)
            return [Update(key, set=dict(change.changes), conditions=(Equals("status", "pending_review"),))]
        case ports.ProfileChanged():
            return [
                Update(
                    keys.profile_key(corp_id, change.affiliate_id),
                    set={**change.values, "version": change.expected_version + 1},
                    remove=change.removed,
                    conditions=(Equals("version", change.expected_version), Exists()),
                )
            ]
        case ports.BindingSaved():
            return binding_saved(corp_id, change)
        case ports.CommissionDecided():
            return commission_decided(corp_id, change, ledger)
        case ports.ShareChanged():
            moved: list[Write] = []
            if change.net_change_fen:
                net = {"net_fen": change.net_change_fen}
                moved += _totals_updates(corp_id, change.order_id, change.paid_at, net)
            return [
                Update(
                    keys.share_key(corp_id, change.order_id, change.role),
                    set={**change.values, "version": change.expected_version + 1},
                    conditions=(Equals("version", change.expected_version),),
                ),
                *moved,
            ]
        case ports.ShareCompleted():
            return [
                Update(
                    keys.share_key(corp_id, change.order_id, change.role),
                    set={
                        "completed_at": iso_utc(change.completed_at),
                        "hold_until": iso_utc(change.hold_until),
                    },
                    conditions=(Exists(),),
                )
            ]
        case ports.DecisionUnchanged():  # no change: a guard on the decision in the transaction
            return [
                Update(
                    keys.decision_key(corp_id, change.order_id),
                    set={"decided_at": change.decided_at},
                    conditions=(Equals("decided_at", change.decided_at),),
                )
            ]
        case ports.Posted():
            return posting_writes(change.entries, change.at)
        case ports.HoldReduced():
            return [ledger.hold_reduction(change.reversal)]
        case ports.HoldScheduled():
            return [ledger.hold_schedule(change.account, change.credit_id, change.hold_until)]
        case ports.OrderSaved():
            return [order_put(change.state, change.expected_version)]
        case ports.WithdrawalRequested():
            return withdrawal_requested(corp_id, change)
        case ports.WithdrawalMoved():  # a move to "paying" shows "paying" (its payout is queued)
            wid, shown = change.withdrawal_id, dict(change.values)
            if "status" in shown:
                shown.update(table_keys.withdrawal_status_attributes(corp_id, wid, shown["status"]))
            conditions = (Equals("status", change.from_status),)
            return [Update(keys.withdrawal_key(corp_id, wid), set=shown, conditions=conditions)]
        case ports.PayoutCreated():
            return [PayoutRepository.creation_write(change.payout)]
    raise TypeError(f"not a change of the affiliates area: {change!r}")


def entry_count(change: ports.Change) -> int:
    """How many of the change's first writes are ledger entries (a repeat fails there)."""
    if isinstance(change, ports.Posted):
        return len(change.entries)
    return 0
