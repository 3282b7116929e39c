"""The tag library's use cases where handlers import them: stored here, pushed to WeCom at once,
never pulled back but by a manual import (``library``, ``editing``, ``wecom_import``, ``customers``)."""

from __future__ import annotations

from incentives.tags.customers import SegmentMember, mark_customer_tags, segment
from incentives.tags.editing import add_tags, create_group, delete_group, delete_tag, update_group, update_tag
from incentives.tags.library import (
    TagGroupView,
    TagView,
    group_view,
    group_visible,
    guide_tag_ids,
    list_tags,
    shown_to_guides,
)
from incentives.tags.wecom_import import import_from_wecom

__all__ = [
    "SegmentMember",
    "TagGroupView",
    "TagView",
    "add_tags",
    "create_group",
    "delete_group",
    "delete_tag",
    "group_view",
    "group_visible",
    "guide_tag_ids",
    "import_from_wecom",
    "list_tags",
    "mark_customer_tags",
    "segment",
    "shown_to_guides",
    "update_group",
    "update_tag",
]
