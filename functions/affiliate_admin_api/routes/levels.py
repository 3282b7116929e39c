"""Affiliate levels: the levels with their member counts, and one affiliate's level by hand."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel, Field

from incentives.api.app import principal_of
from incentives.core.clock import SystemClock
from incentives.levels import service as levels
from incentives.levels.settings import LevelSettings
from incentives.levels.views import LevelHistory, LevelsView, history, levels_view
from incentives.runtime import wiring
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
def put_levels(body: LevelSettings) -> LevelsView:
    principal = principal_of(router, ADMINS)
    levels.save_settings(wiring.level_repository(), principal.corp_id, body, clock.now())
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
        repository, principal.corp_id, affiliate_id, body.rank, body.reason, principal.subject, clock.now()
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
