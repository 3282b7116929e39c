"""Becoming an affiliate, invitations, promotable stores, customers' activity (seed 001 §2.2, seed 003).

Applications are checked against the customer's recorded activity (orders, recharges, the
official account, identities and tags), which the event processor keeps per customer. Raw
answers are stored for the merchant's review; every answer of the API masks mobiles and ID
numbers (``masked_answers``), and nothing here logs them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from incentives.affiliates import store
from incentives.affiliates.application import (
    CustomerActivity,
    Decision,
    decide,
    evaluate,
    masked_answers,
    validate_answers,
)
from incentives.affiliates.binding import upline_chain
from incentives.affiliates.commission import Promoter
from incentives.affiliates.program import ProgramSettings, PromotableStores, PromotionType
from incentives.core.clock import DEFAULT_TIME_ZONE, iso_utc, parse_instant
from incentives.core.errors import ConcurrentModification, Conflict, InvalidInput, NotFound
from incentives.levels.assessment import Trigger
from incentives.levels.metrics import Metric, one
from incentives.levels.service import assess_owed
from incentives.storage import levels as level_storage
from incentives.storage.table import ConditionFailed, Equals, Exists, NotExists, Put, Table, Update, Write

BOUGHT_CHUNK = 25
OPENID = r"^[A-Za-z0-9_\-]{6,64}$"

if TYPE_CHECKING:
    from incentives.webhook.models import CustomerUpdated, MemberRegistered, OrderPaid, RechargePaid


class ApplicationInput(BaseModel):
    answers: dict[str, Any] = Field(default_factory=dict, description="Form answers by field key")
    openid: str = Field(pattern=OPENID, description="The applicant's openid under the merchant's app")
    invited_by: str | None = Field(
        default=None, max_length=128, description="The affiliate whose invitation link was opened"
    )


class ProfileChange(BaseModel):
    """What the merchant may change of an affiliate (seed 001 §2.1.2: 微客列表).

    The stores an affiliate may promote follow the program (every store, or under ``applied``
    the stores they applied for and got approved) until the merchant chooses for them; the
    choice stands whatever the program later switches to, until ``follow_program`` undoes it."""

    stores: list[str] | None = Field(
        default=None, max_length=1000, description="Exactly these stores (the merchant's choice)"
    )
    all_stores: bool = Field(default=False, description="True: every store (stores is then ignored)")
    follow_program: bool = Field(
        default=False, description="True: drop the merchant's choice; the program's setting applies again"
    )
    types: list[PromotionType] | None = Field(default=None, max_length=2)


# --- reading ---------------------------------------------------------------------------------------


def profile(table: Table, corp_id: str, affiliate_id: str) -> dict[str, Any] | None:
    item = table.get(store.profile_key(corp_id, affiliate_id))
    return item if item and item.get("status") == "active" else None


def require_profile(table: Table, corp_id: str, affiliate_id: str) -> dict[str, Any]:
    item = profile(table, corp_id, affiliate_id)
    if item is None:
        raise NotFound(f"{affiliate_id} is not an affiliate", field="affiliate_id")
    return item


def approved_stores(item: dict[str, Any]) -> list[str]:
    """The stores the affiliate applied for and the merchant approved."""
    return list(item.get("approved_stores", []))


def promotable_stores(item: dict[str, Any], settings: ProgramSettings) -> frozenset[str] | None:
    """The stores an affiliate may promote now (None: every store), seed 001 §2.1.2: the
    merchant's choice for them if any, else the program's — every store, or under ``applied``
    the approved ones. The program's setting applies to everyone, whenever they joined."""
    choice = item.get("stores_choice")
    if choice == "all":
        return None
    if isinstance(choice, list):
        return frozenset(choice)
    if settings.promotable_stores is PromotableStores.APPLIED:
        return frozenset(approved_stores(item))
    return None


def promoter(item: dict[str, Any], settings: ProgramSettings) -> Promoter:
    return Promoter(
        affiliate_id=item["affiliate_id"],
        upline_id=item.get("upline_id") or None,
        level_rate_bp=item.get("level_rate_bp"),
        stores=promotable_stores(item, settings),
        types=frozenset(PromotionType(t) for t in item.get("types", [])),
    )


def chain_of(table: Table, corp_id: str, affiliate_id: str) -> list[str]:
    """The affiliate and their uplines, nearest first (a chain is short: two tiers pay)."""
    uplines: dict[str, str | None] = {}
    current: str | None = affiliate_id
    while current and current not in uplines and len(uplines) < 64:
        item = table.get(store.profile_key(corp_id, current))
        uplines[current] = item.get("upline_id") if item else None
        current = uplines[current]
    return upline_chain(affiliate_id, uplines)


def activity(table: Table, corp_id: str, customer_id: str, product_ids: list[str]) -> CustomerActivity:
    item = table.get(store.activity_key(corp_id, customer_id)) or {}
    bought = frozenset(
        product
        for product in product_ids
        if table.get(store.bought_key(corp_id, customer_id, product)) is not None
    )
    return CustomerActivity(
        followed_official_account=bool(item.get("followed_official_account", False)),
        identities=frozenset(item.get("identities", [])),
        tags=frozenset(item.get("tags", [])),
        products_bought=bought,
        consumption_fen=int(item.get("consumption_fen", 0)),
        consumption_count=int(item.get("consumption_count", 0)),
        recharge_fen=int(item.get("recharge_fen", 0)),
        recharge_count=int(item.get("recharge_count", 0)),
    )


def eligibility(table: Table, corp_id: str, customer_id: str, settings: ProgramSettings) -> dict[str, Any]:
    """Which application conditions the customer meets now (the apply page shows what is left)."""
    found = evaluate(
        settings.application, activity(table, corp_id, customer_id, _condition_products(settings))
    )
    return {"eligible": found.eligible, "met": found.met, "unmet": found.unmet}


def _condition_products(settings: ProgramSettings) -> list[str]:
    return [
        product
        for condition in settings.application.conditions
        for product in getattr(condition, "product_ids", [])
    ]


# --- recording activity (event processor) ------------------------------------------------------------


def _marker(corp_id: str, customer_id: str, source: str, now: datetime) -> Put:
    """Marks one source of activity (an order, a recharge) as counted."""
    return Put(
        {
            **store.activity_marker_key(corp_id, customer_id, source),
            "kind": "activity_marker",
            "at": iso_utc(now),
        },
        (NotExists(),),
    )


def _commit_once(table: Table, writes: list[Write]) -> bool:
    """Commit writes led by a marker; False when the marker says they were committed before."""
    try:
        table.transact(writes)
    except ConditionFailed as failure:
        if 0 in failure.failed:
            return False
        raise
    return True


def _once(
    table: Table, corp_id: str, customer_id: str, source: str, writes: list[Write], now: datetime
) -> bool:
    return _commit_once(table, [_marker(corp_id, customer_id, source, now), *writes])


def order_activity_writes(corp_id: str, order: OrderPaid, now: datetime) -> list[Write]:
    """Count a paid order in the customer's consumption (paid + points + balance, seed 001 ④⑤), once."""
    consumption = sum(line.paid_fen + line.points_fen + line.balance_fen for line in order.lines)
    return [
        _marker(corp_id, order.customer_id, f"order:{order.order_id}", now),
        Update(
            store.activity_key(corp_id, order.customer_id),
            add={"consumption_fen": consumption, "consumption_count": 1},
            set={"kind": "customer_activity"},
        ),
    ]


def bought_writes(corp_id: str, order: OrderPaid) -> list[Write]:
    """The products the customer bought (plain puts: writing them again changes nothing)."""
    return [
        Put(
            {
                **store.bought_key(corp_id, order.customer_id, product),
                "kind": "bought",
                "order_id": order.order_id,
            }
        )
        for product in sorted({line.product_id for line in order.lines})
    ]


def record_bought(table: Table, corp_id: str, order: OrderPaid) -> None:
    """Write :func:`bought_writes` in chunks, so an order of any size fits DynamoDB's transactions."""
    writes = bought_writes(corp_id, order)
    for start in range(0, len(writes), BOUGHT_CHUNK):
        table.transact(writes[start : start + BOUGHT_CHUNK])


def record_order(table: Table, corp_id: str, order: OrderPaid, now: datetime) -> bool:
    """Count the order in the customer's activity, once; False when counted before."""
    if table.get(store.activity_marker_key(corp_id, order.customer_id, f"order:{order.order_id}")):
        return False  # every later event of the order comes by here: write nothing again
    record_bought(table, corp_id, order)
    return _commit_once(table, order_activity_writes(corp_id, order, now))


def affiliate_since(table: Table, corp_id: str, customer_id: str, at: datetime) -> bool:
    """True when ``customer_id`` was an active affiliate at ``at`` (own purchases and recharges
    count in their level figures only from then on)."""
    item = profile(table, corp_id, customer_id)
    return item is not None and parse_instant(item["joined_at"]) <= at


def record_recharge(
    table: Table,
    corp_id: str,
    recharge: RechargePaid,
    now: datetime,
    *,
    time_zone: str = DEFAULT_TIME_ZONE,
    event_id: str | None = None,
) -> str:
    """Count a recharge in the customer's activity and, for an affiliate, their recharge amount."""
    customer = recharge.customer_id
    writes: list[Write] = [
        Update(
            store.activity_key(corp_id, customer),
            add={"recharge_fen": recharge.amount_fen, "recharge_count": 1},
            set={"kind": "customer_activity"},
        )
    ]
    figures = (
        one(customer, Metric.RECHARGE_FEN, recharge.paid_at, time_zone, recharge.amount_fen)
        if affiliate_since(table, corp_id, customer, recharge.paid_at)
        else {}
    )
    trigger = Trigger(source=f"recharge:{recharge.recharge_id}", event_id=event_id, at=now)
    writes += level_storage.contribution_writes(corp_id, figures, trigger)
    if _once(table, corp_id, customer, f"recharge:{recharge.recharge_id}", writes, now):
        assess_owed(
            level_storage.TableLevelRepository(table), corp_id, [customer] if figures else [], now, time_zone
        )
        return f"recharge of {recharge.amount_fen} fen counted for {customer}"
    return "recharge counted before"


def record_profile(table: Table, corp_id: str, change: CustomerUpdated) -> str:
    values: dict[str, Any] = {"kind": "customer_activity"}
    if change.followed_official_account is not None:
        values["followed_official_account"] = change.followed_official_account
    if change.identities is not None:
        values["identities"] = sorted(set(change.identities))
    if change.tags is not None:
        values["tags"] = sorted(set(change.tags))
    table.transact([Update(store.activity_key(corp_id, change.customer_id), set=values)])
    return f"profile of {change.customer_id} updated ({', '.join(sorted(values) or ['nothing'])})"


def record_member(
    table: Table,
    corp_id: str,
    member: MemberRegistered,
    now: datetime,
    *,
    time_zone: str = DEFAULT_TIME_ZONE,
    event_id: str | None = None,
) -> str:
    """A member who registered through an affiliate's invitation counts as an invited member."""
    inviter = member.invited_by_affiliate_id
    if not inviter:
        return "registered without an inviter"
    if profile(table, corp_id, inviter) is None:
        return f"inviter {inviter} is not an affiliate"
    figures = one(inviter, Metric.INVITED_MEMBERS, member.registered_at, time_zone)
    trigger = Trigger(source=f"member:{member.customer_id}", event_id=event_id, at=now)
    try:
        table.transact(
            [
                Put(
                    {
                        **store.invited_member_key(corp_id, inviter, member.customer_id),
                        "kind": "invited_member",
                        "registered_at": iso_utc(member.registered_at),
                    },
                    (NotExists(),),
                ),
                store.stats_add(corp_id, inviter, {"invited_members": 1}, now),
                *level_storage.contribution_writes(corp_id, figures, trigger),
            ]
        )
    except ConditionFailed:
        return "invited member counted before"
    assess_owed(level_storage.TableLevelRepository(table), corp_id, [inviter], now, time_zone)
    return f"{member.customer_id} counted as a member invited by {inviter}"


# --- applying ----------------------------------------------------------------------------------------


def _profile_item(
    corp_id: str, customer_id: str, settings: ProgramSettings, app: dict[str, Any], now: datetime
) -> dict[str, Any]:
    upline = app.get("invited_by") or None
    item: dict[str, Any] = {
        **store.profile_key(corp_id, customer_id),
        "kind": "affiliate",
        "affiliate_id": customer_id,
        "status": "active",
        "name": str(app.get("answers", {}).get("name", "")),
        "openid": app["openid"],
        "upline_id": upline,
        "joined_at": iso_utc(now),
        "approved_stores": [],
        "types": [t.value for t in settings.promotion_types],
        "level_rate_bp": None,
        "version": 1,
        "gsi2pk": store.tenant_list(corp_id, "AFFILIATES"),
        "gsi2sk": f"{iso_utc(now)}#{customer_id}",
    }
    if upline:
        item["gsi3pk"] = store.own_list(corp_id, "AFF_DOWNLINE", upline)
        item["gsi3sk"] = f"{iso_utc(now)}#{customer_id}"
    return item


def _joining(
    table: Table,
    corp_id: str,
    customer_id: str,
    settings: ProgramSettings,
    app: dict[str, Any],
    now: datetime,
    time_zone: str,
) -> list[Write]:
    """The new affiliate (at the default level) and, for their inviter, one more invited affiliate."""
    writes: list[Write] = [Put(_profile_item(corp_id, customer_id, settings, app, now), (NotExists(),))]
    levels = level_storage.TableLevelRepository(table).settings(corp_id)
    writes += level_storage.joining_writes(
        corp_id, customer_id, level_storage.initial_change(customer_id, now, levels)
    )
    if app.get("invited_by"):
        inviter = app["invited_by"]
        writes.append(store.stats_add(corp_id, inviter, {"invited_affiliates": 1}, now))
        figures = one(inviter, Metric.INVITED_AFFILIATES, now, time_zone)
        trigger = Trigger(source=f"joined:{customer_id}", at=now)
        writes += level_storage.contribution_writes(corp_id, figures, trigger)
    return writes


def _storable(answers: dict[str, Any]) -> dict[str, Any]:
    """Answers as DynamoDB keeps them: a fractional number as a Decimal (it refuses floats)."""
    return {
        key: Decimal(repr(value)) if isinstance(value, float) else value for key, value in answers.items()
    }


def _joined(table: Table, corp_id: str, app: dict[str, Any], now: datetime, time_zone: str) -> None:
    """After joining: the inviter, owed an assessment, may rise (seed: levels by invited affiliates)."""
    if app.get("invited_by"):
        assess_owed(level_storage.TableLevelRepository(table), corp_id, [app["invited_by"]], now, time_zone)


def submit_application(
    table: Table,
    corp_id: str,
    customer_id: str,
    body: ApplicationInput,
    now: datetime,
    *,
    time_zone: str = DEFAULT_TIME_ZONE,
) -> dict[str, Any]:
    """Apply (or, in mode ``auto``, become an affiliate at once). Nothing is stored when refused."""
    settings = store.load_settings(table, corp_id)
    if table.get(store.profile_key(corp_id, customer_id)) is not None:
        raise Conflict("you are an affiliate already", field="customer_id")
    existing = table.get(store.application_key(corp_id, customer_id))
    if existing is not None and existing["status"] == Decision.PENDING_REVIEW:
        raise Conflict("your application is under review", field="customer_id")
    answers = validate_answers(settings.application.form, body.answers)
    if body.invited_by:
        if profile(table, corp_id, body.invited_by) is None:
            raise InvalidInput(f"{body.invited_by} is not an affiliate", field="invited_by")
        if customer_id in chain_of(table, corp_id, body.invited_by):
            raise InvalidInput("an affiliate cannot invite themself or their own upline", field="invited_by")
    eligibility = evaluate(
        settings.application,
        activity(table, corp_id, customer_id, _condition_products(settings)),
    )
    decision, reason = decide(settings.application, eligibility)
    if decision is Decision.REJECTED:
        raise Conflict(reason, field="conditions")
    app = {
        **store.application_key(corp_id, customer_id),
        "kind": "affiliate_application",
        "customer_id": customer_id,
        "answers": answers,
        "openid": body.openid,
        "invited_by": body.invited_by,
        "status": decision.value,
        "reason": reason,
        "submitted_at": iso_utc(now),
        "reviewed_at": iso_utc(now) if decision is Decision.APPROVED else None,
        "reviewed_by": "auto" if decision is Decision.APPROVED else None,
        "gsi2pk": store.tenant_list(corp_id, "AFF_APPLICATIONS"),
        "gsi2sk": f"{iso_utc(now)}#{customer_id}",
    }
    condition = (NotExists(),) if existing is None else (Equals("submitted_at", existing["submitted_at"]),)
    writes: list[Write] = [Put({**app, "answers": _storable(answers)}, condition)]
    if decision is Decision.APPROVED:
        writes += _joining(table, corp_id, customer_id, settings, app, now, time_zone)
    try:
        table.transact(writes)
    except ConditionFailed:
        raise ConcurrentModification("your application changed meanwhile; send it again") from None
    if decision is Decision.APPROVED:
        _joined(table, corp_id, app, now, time_zone)
    return application_view(app)


def review_application(
    table: Table,
    corp_id: str,
    customer_id: str,
    approve: bool,
    reason: str,
    actor: str,
    now: datetime,
    *,
    time_zone: str = DEFAULT_TIME_ZONE,
) -> dict[str, Any]:
    """The merchant approves or rejects a pending application (manual review)."""
    app = table.get(store.application_key(corp_id, customer_id))
    if app is None:
        raise NotFound(f"no application of {customer_id}", field="customer_id")
    if app["status"] != Decision.PENDING_REVIEW:
        raise Conflict(f"the application is {app['status']}, not pending review", field="status")
    status = (Decision.APPROVED if approve else Decision.REJECTED).value
    changes = {"status": status, "reason": reason, "reviewed_at": iso_utc(now), "reviewed_by": actor}
    writes: list[Write] = [
        Update(
            store.application_key(corp_id, customer_id),
            set=changes,
            conditions=(Equals("status", Decision.PENDING_REVIEW.value),),
        )
    ]
    if approve:
        writes += _joining(
            table, corp_id, customer_id, store.load_settings(table, corp_id), app, now, time_zone
        )
    try:
        table.transact(writes)
    except ConditionFailed:
        raise Conflict("the application was reviewed meanwhile", field="status") from None
    if approve:
        _joined(table, corp_id, app, now, time_zone)
    return application_view({**app, **changes})


def application_view(item: dict[str, Any]) -> dict[str, Any]:
    """An application as the APIs show it: mobile and ID number masked."""
    return {
        "customer_id": item["customer_id"],
        "status": item["status"],
        "reason": item.get("reason", ""),
        "answers": masked_answers(item.get("answers", {})),
        "invited_by": item.get("invited_by"),
        "submitted_at": item["submitted_at"],
        "reviewed_at": item.get("reviewed_at"),
        "reviewed_by": item.get("reviewed_by"),
    }


def applications(table: Table, corp_id: str, status: str | None = None) -> list[dict[str, Any]]:
    items = store.query_all(table, store.tenant_list(corp_id, "AFF_APPLICATIONS"), index="gsi2")
    return [application_view(i) for i in items if status is None or i["status"] == status]


# --- promotable stores and types -----------------------------------------------------------------------


def apply_for_store(
    table: Table, corp_id: str, affiliate_id: str, store_id: str, now: datetime
) -> dict[str, Any]:
    """Ask to promote a store (promotable stores ``applied``); the merchant reviews it."""
    item = require_profile(table, corp_id, affiliate_id)
    stores = promotable_stores(item, store.load_settings(table, corp_id))
    if stores is None or store_id in stores:
        raise Conflict(f"you may promote store {store_id} already", field="store_id")
    key = store.store_application_key(corp_id, affiliate_id, store_id)
    found = table.get(key)
    if found is not None and found["status"] == Decision.PENDING_REVIEW:
        return _store_view(found)
    application = {
        **key,
        "kind": "store_application",
        "affiliate_id": affiliate_id,
        "store_id": store_id,
        "status": Decision.PENDING_REVIEW.value,
        "submitted_at": iso_utc(now),
        "gsi2pk": store.tenant_list(corp_id, "AFF_STORE_APPLICATIONS"),
        "gsi2sk": f"{iso_utc(now)}#{affiliate_id}#{store_id}",
    }
    table.transact([Put(application)])
    return _store_view(application)


def review_store(
    table: Table, corp_id: str, affiliate_id: str, store_id: str, approve: bool, actor: str, now: datetime
) -> dict[str, Any]:
    key = store.store_application_key(corp_id, affiliate_id, store_id)
    found = table.get(key)
    if found is None:
        raise NotFound(f"no application of {affiliate_id} for store {store_id}", field="store_id")
    if found["status"] != Decision.PENDING_REVIEW:
        raise Conflict(f"the store application is {found['status']}", field="status")
    changes = {
        "status": (Decision.APPROVED if approve else Decision.REJECTED).value,
        "reviewed_at": iso_utc(now),
        "reviewed_by": actor,
    }
    writes: list[Write] = [
        Update(key, set=changes, conditions=(Equals("status", Decision.PENDING_REVIEW.value),))
    ]
    if approve:
        item = require_profile(table, corp_id, affiliate_id)
        writes.append(
            Update(
                store.profile_key(corp_id, affiliate_id),
                set={
                    "approved_stores": sorted({*approved_stores(item), store_id}),
                    "version": int(item["version"]) + 1,
                },
                conditions=(Equals("version", item["version"]),),
            )
        )
    try:
        table.transact(writes)
    except ConditionFailed:
        raise ConcurrentModification("the affiliate changed meanwhile; review again") from None
    return _store_view({**found, **changes})


def _store_view(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item.get(k) for k in ("affiliate_id", "store_id", "status", "submitted_at", "reviewed_at")}


def store_applications(table: Table, corp_id: str, status: str | None = None) -> list[dict[str, Any]]:
    items = store.query_all(table, store.tenant_list(corp_id, "AFF_STORE_APPLICATIONS"), index="gsi2")
    return [_store_view(i) for i in items if status is None or i["status"] == status]


def change_profile(table: Table, corp_id: str, affiliate_id: str, change: ProfileChange) -> dict[str, Any]:
    item = require_profile(table, corp_id, affiliate_id)
    values: dict[str, Any] = {"version": int(item["version"]) + 1}
    removed: tuple[str, ...] = ()
    if change.follow_program:
        removed = ("stores_choice",)
    elif change.all_stores:
        values["stores_choice"] = "all"
    elif change.stores is not None:
        values["stores_choice"] = sorted(set(change.stores))
    if change.types is not None:
        if len(set(change.types)) != len(change.types):
            raise InvalidInput("types lists a type twice", field="types")
        values["types"] = [t.value for t in change.types]
    try:
        table.transact(
            [
                Update(
                    store.profile_key(corp_id, affiliate_id),
                    set=values,
                    remove=removed,
                    conditions=(Equals("version", item["version"]), Exists()),
                )
            ]
        )
    except ConditionFailed:
        raise ConcurrentModification("the affiliate changed meanwhile; send it again") from None
    changed = {key: value for key, value in {**item, **values}.items() if key not in removed}
    return profile_view(changed, store.load_settings(table, corp_id))


def profile_view(item: dict[str, Any], settings: ProgramSettings) -> dict[str, Any]:
    stores = promotable_stores(item, settings)
    choice = item.get("stores_choice")
    return {
        "affiliate_id": item["affiliate_id"],
        "name": item.get("name", ""),
        "status": item["status"],
        "upline_id": item.get("upline_id"),
        "joined_at": item["joined_at"],
        "stores": None if stores is None else sorted(stores),
        "stores_set_by": "merchant" if choice is not None else "program",
        "approved_stores": approved_stores(item),
        "types": item.get("types", []),
        "level_rate_bp": item.get("level_rate_bp"),
    }


def affiliates(table: Table, corp_id: str) -> list[dict[str, Any]]:
    settings = store.load_settings(table, corp_id)
    return [
        profile_view(i, settings)
        for i in store.query_all(table, store.tenant_list(corp_id, "AFFILIATES"), index="gsi2")
    ]
