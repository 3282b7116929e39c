"""Guide permissions (seed 002): which customer attributes guides see, and which they may edit.

The associated outlet, the attach time and the exclusive guide are always shown and never
editable. Mobile numbers are masked in every answer.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Literal

from pydantic import BaseModel, Field

from incentives.core.errors import Forbidden, InvalidInput
from incentives.org.ports import OrgRepository

Attribute = Literal["name", "mobile", "gender", "birthday", "member_level", "remark", "tags"]
ATTRIBUTES: tuple[str, ...] = ("name", "mobile", "gender", "birthday", "member_level", "remark", "tags")
ALWAYS_SHOWN = ("outlet_id", "attached_at", "guide_id")


class AttributeRule(BaseModel):
    visible: bool = False
    editable: bool = False


class GuidePermissions(BaseModel):
    display_enabled: bool = Field(default=False, description="Show customer attributes to guides at all")
    attributes: dict[Attribute, AttributeRule] = Field(default_factory=dict)

    def rule(self, attribute: str) -> AttributeRule:
        return self.attributes.get(attribute, AttributeRule())  # type: ignore[call-overload,no-any-return]


def load_permissions(repo: OrgRepository, corp_id: str) -> GuidePermissions:
    value = repo.permissions(corp_id)
    return GuidePermissions.model_validate(value) if value is not None else GuidePermissions()


def save_permissions(repo: OrgRepository, corp_id: str, permissions: GuidePermissions) -> GuidePermissions:
    for attribute, rule in permissions.attributes.items():
        if rule.editable and not rule.visible:
            raise InvalidInput(
                f"{attribute}: an attribute guides may edit must be visible", field=f"attributes.{attribute}"
            )
    repo.save_permissions(corp_id, permissions.model_dump(mode="json"))
    return permissions


def mask_mobile(mobile: str) -> str:
    return mobile[:3] + "****" + mobile[-4:] if len(mobile) >= 7 else "****"


def customer_view(
    customer: dict[str, Any], permissions: GuidePermissions, shown_tags: Collection[str] = ()
) -> dict[str, Any]:
    """What a guide sees of their customer: of its tags, those in ``shown_tags`` (the tags guides
    see now; the relations to hidden ones are kept, not shown)."""
    view: dict[str, Any] = {
        "customer_id": customer["customer_id"],
        **{field: customer.get(field) for field in ALWAYS_SHOWN},
    }
    if not permissions.display_enabled:
        return view
    attributes = customer.get("attributes", {})
    for attribute in ATTRIBUTES:
        if not permissions.rule(attribute).visible:
            continue
        if attribute == "tags":
            view["tag_ids"] = [t for t in customer.get("tag_ids", []) if t in shown_tags]
        elif attribute == "name":
            view["name"] = customer.get("name", "")
        else:
            value = attributes.get(attribute)
            view[attribute] = mask_mobile(value) if attribute == "mobile" and value else value
    view["editable"] = [a for a in ATTRIBUTES if permissions.rule(a).editable and a != "tags"]
    return view


def check_edit(changes: dict[str, Any], permissions: GuidePermissions) -> dict[str, Any]:
    """Refuse any change a guide may not make; return the attribute changes to store."""
    for field in changes:
        if field in ALWAYS_SHOWN:
            raise Forbidden(f"{field} is shown to guides but never editable by them")
        if field not in ATTRIBUTES or field == "tags":
            raise InvalidInput(f"unknown attribute {field}", field=field)
        if not (permissions.display_enabled and permissions.rule(field).editable):
            raise Forbidden(f"guides may not edit {field}")
    return changes
