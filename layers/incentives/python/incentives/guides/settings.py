"""Seed 000 "Incentive settings": the payment method, online (WeCom Pay) or offline (recorded only)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, computed_field

from incentives.core.errors import InvalidInput
from incentives.guides.ports import GuideRepository
from incentives.guides.programs import ensure_templates
from incentives.guides.rules import WECOM_PAY_MINIMUM_FEN, PaymentMethod


class IncentiveSettings(BaseModel):
    payment_method: PaymentMethod = PaymentMethod.OFFLINE

    @computed_field(  # type: ignore[prop-decorator]
        description="Online only: a reward below this is carried into the guide's next online payment"
    )
    @property
    def minimum_online_payment_fen(self) -> int:
        return WECOM_PAY_MINIMUM_FEN


def settings_from(value: dict[str, object] | None) -> IncentiveSettings:
    """The stored settings document as settings (the defaults before the first save)."""
    return IncentiveSettings.model_validate(value) if value is not None else IncentiveSettings()


def load_settings(repo: GuideRepository, corp_id: str) -> IncentiveSettings:
    return settings_from(repo.settings(corp_id))


def save_settings(
    repo: GuideRepository,
    corp_id: str,
    settings: IncentiveSettings,
    wecom_pay_configured: bool,
    now: datetime,
) -> IncentiveSettings:
    """Store the settings; the default templates exist from then on."""
    if settings.payment_method is PaymentMethod.ONLINE and not wecom_pay_configured:
        raise InvalidInput(
            "online payment needs WeCom Pay: add the tenant's wecom_pay credentials first",
            field="payment_method",
        )
    repo.save_settings(corp_id, settings.model_dump(mode="json"), now)
    ensure_templates(repo, corp_id, now)
    return settings
