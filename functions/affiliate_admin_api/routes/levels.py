"""Affiliate levels: the levels with their member counts, rule changes (recalculate / keep), deleting
a level, the preview of either, and one affiliate's level by hand."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, Field

from incentives.api.app import principal_of
from incentives.core.clock import SystemClock
from incentives.levels import service as levels
from incentives.levels.preview import LevelPreview, PreviewRequest, preview
from incentives.levels.settings import MAX_LEVELS, ChangeMode, LevelSettings
from incentives.levels.views import LevelHistory, LevelsView, history, levels_view
from incentives.runtime import wiring
from incentives.runtime.settings import settings
from incentives.storage.affiliates import membership
from routes import ADMINS, Id

router = Router()
clock = SystemClock()


class LevelChangeInput(BaseModel):
    """The merchant sets an affiliate's level by hand, saying why."""

    rank: int = Field(ge=1, le=20, description="The level to set (1 = the default level)")
    reason: str = Field(min_length=1, max_length=200, description="Why (kept with the change)")


@router.get("/admin/affiliates/levels", summary="The levels, with their member counts", tags=["levels"])
def get_levels() -> LevelsView:
    principal = principal_of(router, ADMINS)
    return levels_view(wiring.level_repository(), principal.corp_id)


@router.put(
    "/admin/affiliates/levels",
    summary="Replace the levels (the next rule version); a level with members cannot be removed",
    tags=["levels"],
)
def put_levels(
    body: LevelSettings,
    on_change: Annotated[
        ChangeMode,
        Query(description="When the rules change: recalculate everyone's level, or keep levels with quotas"),
    ] = ChangeMode.RECALCULATE,
) -> LevelsView:
    principal = principal_of(router, ADMINS)
    levels.save_settings(wiring.level_repository(), principal.corp_id, body, clock.now(), on_change)
    return levels_view(wiring.level_repository(), principal.corp_id)


@router.post(
    "/admin/affiliates/levels/preview",
    summary="★ What a rule change, a recalculate / keep choice or a deletion would do, before applying it",
    tags=["levels"],
)
def preview_levels(body: PreviewRequest) -> LevelPreview:
    principal = principal_of(router, ADMINS)
    return preview(wiring.level_repository(), principal.corp_id, body, clock.now(), settings().time_zone)


@router.delete(
    "/admin/affiliates/levels/<rank>",
    summary="Delete a level: those above move down one rank, everyone is re-levelled",
    tags=["levels"],
)
def delete_level(rank: Annotated[int, Path(ge=2, le=MAX_LEVELS)]) -> LevelsView:
    principal = principal_of(router, ADMINS)
    levels.delete_level(wiring.level_repository(), principal.corp_id, rank, clock.now())
    return levels_view(wiring.level_repository(), principal.corp_id)


@router.patch(
    "/admin/affiliates/<affiliate_id>/level",
    summary="Set an affiliate's level, with a reason",
    tags=["levels"],
)
def change_level(affiliate_id: Id, body: LevelChangeInput) -> LevelHistory:
    principal = principal_of(router, ADMINS)
    membership.require_profile(wiring.table(), principal.corp_id, affiliate_id)
    repository = wiring.level_repository()
    levels.change_by_hand(
        repository,
        principal.corp_id,
        affiliate_id,
        body.rank,
        body.reason,
        principal.subject,
        clock.now(),
        settings().time_zone,
    )
    return history(repository, principal.corp_id, affiliate_id, for_affiliate=False)


@router.get(
    "/admin/affiliates/<affiliate_id>/level-history",
    summary="An affiliate's level and every change of it, each with why",
    tags=["levels"],
)
def level_history(affiliate_id: Id) -> LevelHistory:
    principal = principal_of(router, ADMINS)
    membership.require_profile(wiring.table(), principal.corp_id, affiliate_id)
    return history(wiring.level_repository(), principal.corp_id, affiliate_id, for_affiliate=False)
