"""The customer tag library (kept in step with WeCom's) and customer segments by tag."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel, Field

from incentives.api.app import principal_of
from incentives.api.errors import wecom_responses
from incentives.api.scope import CONSOLE, admin_only
from incentives.api.views.console import TagDeleted, TagImport
from incentives.runtime import wiring
from incentives.tags.service import (
    SegmentMember,
    TagGroupView,
    TagView,
    add_tags,
    create_group,
    delete_group,
    delete_tag,
    import_from_wecom,
    list_tags,
    segment,
    update_group,
    update_tag,
)

router = Router()


class TagGroupRequest(BaseModel):
    name: str = Field(min_length=1, max_length=30)
    tags: list[str] = Field(min_length=1, max_length=100)
    visible: bool = True


class TagUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=30)
    visible: bool | None = None


class GroupTagsRequest(BaseModel):
    tags: list[str] = Field(min_length=1, max_length=100, description="Names of the new tags")
    visible: bool = Field(default=True, description="Visible to guides (then created in WeCom at once)")


class TagGroupUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=30)
    visible: bool | None = Field(
        default=None, description="Hidden: deleted in WeCom with its tags; shown: created there anew"
    )


class TagGroupDeleted(BaseModel):
    group_id: str
    deleted: bool


class SegmentRequest(BaseModel):
    tag_ids: list[str] = Field(min_length=1, max_length=100)


@router.get("/admin/tags", summary="The customer tag library", tags=["tags"])
def get_tags() -> list[TagView]:
    principal = principal_of(router, CONSOLE)
    return list_tags(wiring.tag_repository(), principal.corp_id)


@router.post(
    "/admin/tag-groups",
    summary="Create a tag group (pushed to WeCom when visible)",
    tags=["tags"],
    responses=wecom_responses(list[TagView]),
)
def post_tag_group(request: TagGroupRequest) -> list[TagView]:
    principal = admin_only(router)
    return create_group(
        wiring.tag_repository(),
        wiring.wecom_client(principal.corp_id),
        principal.corp_id,
        request.name,
        request.tags,
        request.visible,
    )


@router.patch(
    "/admin/tags/<tag_id>",
    summary="Rename a tag or change its visibility to guides",
    tags=["tags"],
    responses=wecom_responses(TagView),
)
def patch_tag(tag_id: Annotated[str, Path(max_length=40)], request: TagUpdate) -> TagView:
    principal = admin_only(router)
    return update_tag(
        wiring.tag_repository(),
        wiring.wecom_client(principal.corp_id),
        principal.corp_id,
        tag_id,
        request.name,
        request.visible,
    )


@router.delete(
    "/admin/tags/<tag_id>",
    summary="Delete a tag (here and in WeCom)",
    tags=["tags"],
    responses=wecom_responses(TagDeleted),
)
def remove_tag(tag_id: Annotated[str, Path(max_length=40)]) -> TagDeleted:
    principal = admin_only(router)
    delete_tag(wiring.tag_repository(), wiring.wecom_client(principal.corp_id), principal.corp_id, tag_id)
    return TagDeleted(tag_id=tag_id, deleted="yes")


@router.post(
    "/admin/tag-groups/<group_id>/tags",
    summary="Add tags to a group (created in WeCom's group at once when visible)",
    tags=["tags"],
    responses=wecom_responses(TagGroupView),
)
def post_group_tags(group_id: Annotated[str, Path(max_length=40)], request: GroupTagsRequest) -> TagGroupView:
    principal = admin_only(router)
    return add_tags(
        wiring.tag_repository(),
        wiring.wecom_client(principal.corp_id),
        principal.corp_id,
        group_id,
        request.tags,
        request.visible,
    )


@router.patch(
    "/admin/tag-groups/<group_id>",
    summary="Rename a tag group or change its visibility to guides (WeCom follows at once)",
    tags=["tags"],
    responses=wecom_responses(TagGroupView),
)
def patch_tag_group(group_id: Annotated[str, Path(max_length=40)], request: TagGroupUpdate) -> TagGroupView:
    principal = admin_only(router)
    return update_group(
        wiring.tag_repository(),
        wiring.wecom_client(principal.corp_id),
        principal.corp_id,
        group_id,
        request.name,
        request.visible,
    )


@router.delete(
    "/admin/tag-groups/<group_id>",
    summary="Delete a tag group with its tags (here and in WeCom)",
    tags=["tags"],
    responses=wecom_responses(TagGroupDeleted),
)
def remove_tag_group(group_id: Annotated[str, Path(max_length=40)]) -> TagGroupDeleted:
    principal = admin_only(router)
    delete_group(wiring.tag_repository(), wiring.wecom_client(principal.corp_id), principal.corp_id, group_id)
    return TagGroupDeleted(group_id=group_id, deleted=True)


@router.post(
    "/admin/tags/import",
    summary="Import the corp tag library from WeCom (manual)",
    tags=["tags"],
    responses=wecom_responses(TagImport),
)
def post_tag_import() -> TagImport:
    principal = admin_only(router)
    imported = import_from_wecom(
        wiring.tag_repository(), wiring.wecom_client(principal.corp_id), principal.corp_id
    )
    return TagImport.model_validate(imported)


@router.post(
    "/admin/customers/segment", summary="Customers with tags: OR within a group, AND across", tags=["tags"]
)
def post_segment(request: SegmentRequest) -> list[SegmentMember]:
    principal = principal_of(router, CONSOLE)
    return segment(wiring.tag_repository(), principal, request.tag_ids)
