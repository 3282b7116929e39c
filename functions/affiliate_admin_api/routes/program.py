"""The program's settings."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from incentives.affiliates.program import ProgramSettings
from incentives.api.app import principal_of
from incentives.core.clock import SystemClock
from incentives.runtime import wiring
from incentives.storage.affiliates import store as affiliate_store
from routes import ADMINS

router = Router()
clock = SystemClock()


@router.get("/admin/affiliates/settings", summary="The program's settings", tags=["settings"])
def get_settings() -> ProgramSettings:
    principal = principal_of(router, ADMINS)
    return affiliate_store.load_settings(wiring.table(), principal.corp_id)


@router.put("/admin/affiliates/settings", summary="Replace the program's settings", tags=["settings"])
def put_settings(body: ProgramSettings) -> ProgramSettings:
    principal = principal_of(router, ADMINS)
    affiliate_store.save_settings(wiring.table(), principal.corp_id, body, clock.now())
    return body
