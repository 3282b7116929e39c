"""Affiliates as the merchant sees and changes them (seed 001 §2.1.2 微客列表): profiles, the
stores and types each may promote, and the chain of uplines."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from incentives.affiliates.binding import upline_chain
from incentives.affiliates.commission import Promoter
from incentives.affiliates.ports import AffiliateRepository, ProfileChanged, Record, Stale
from incentives.affiliates.program import ProgramSettings, PromotableStores, PromotionType
from incentives.core.errors import ConcurrentModification, InvalidInput, NotFound


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


def profile(affiliates: AffiliateRepository, corp_id: str, affiliate_id: str) -> Record | None:
    """The affiliate's profile while they are an active affiliate."""
    item = affiliates.profile(corp_id, affiliate_id)
    return item if item and item.get("status") == "active" else None


def require_profile(affiliates: AffiliateRepository, corp_id: str, affiliate_id: str) -> Record:
    item = profile(affiliates, corp_id, affiliate_id)
    if item is None:
        raise NotFound(f"{affiliate_id} is not an affiliate", field="affiliate_id")
    return item


def approved_stores(item: Record) -> list[str]:
    """The stores the affiliate applied for and the merchant approved."""
    return list(item.get("approved_stores", []))


def promotable_stores(item: Record, settings: ProgramSettings) -> frozenset[str] | None:
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


def promoter(item: Record, settings: ProgramSettings) -> Promoter:
    return Promoter(
        affiliate_id=item["affiliate_id"],
        upline_id=item.get("upline_id") or None,
        level_rate_bp=item.get("level_rate_bp"),
        stores=promotable_stores(item, settings),
        types=frozenset(PromotionType(t) for t in item.get("types", [])),
    )


def chain_of(affiliates: AffiliateRepository, corp_id: str, affiliate_id: str) -> list[str]:
    """The affiliate and their uplines, nearest first (a chain is short: two tiers pay)."""
    uplines: dict[str, str | None] = {}
    current: str | None = affiliate_id
    while current and current not in uplines and len(uplines) < 64:
        item = affiliates.profile(corp_id, current)
        uplines[current] = item.get("upline_id") if item else None
        current = uplines[current]
    return upline_chain(affiliate_id, uplines)


def change_profile(
    affiliates: AffiliateRepository, corp_id: str, affiliate_id: str, change: ProfileChange
) -> dict[str, Any]:
    item = require_profile(affiliates, corp_id, affiliate_id)
    values: dict[str, Any] = {}
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
        affiliates.commit(corp_id, [ProfileChanged(affiliate_id, int(item["version"]), values, removed)])
    except Stale:
        raise ConcurrentModification("the affiliate changed meanwhile; send it again") from None
    changed = {key: value for key, value in {**item, **values}.items() if key not in removed}
    return profile_view(changed, affiliates.settings(corp_id))


def profile_view(item: Record, settings: ProgramSettings) -> dict[str, Any]:
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


def affiliates_of(affiliates: AffiliateRepository, corp_id: str) -> list[dict[str, Any]]:
    """Every affiliate of the tenant, as the console lists them."""
    settings = affiliates.settings(corp_id)
    return [profile_view(item, settings) for item in affiliates.affiliates(corp_id)]


def affiliates_page(
    affiliates: AffiliateRepository, corp_id: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the tenant's affiliates newest first, as the console lists them."""
    settings = affiliates.settings(corp_id)
    page = affiliates.affiliates_page(corp_id, limit, cursor)
    return [profile_view(item, settings) for item in page.records], page.cursor
