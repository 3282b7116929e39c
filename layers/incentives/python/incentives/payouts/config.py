"""A tenant's payment configuration: its payment secrets read into the providers' configs.

Pure: the secrets' values are given (``runtime.wiring`` reads them per tenant and purpose,
``runtime.secrets``), so every rule about what a secret must hold is here and tested without
AWS. Each provider module is imported only when its secret is present, which keeps cold
starts of functions that pay nobody small (SPEC §6).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from incentives.core.errors import InvalidInput, Unauthenticated

if TYPE_CHECKING:
    from incentives.payouts.model import ProviderName
    from incentives.payouts.provider import PayoutProvider
    from incentives.payouts.wechat_notify import NotifyKeys
    from incentives.payouts.wechat_transfer import WeChatTransferConfig
    from incentives.payouts.wecom_pay import WeComPayConfig


def wecom_pay_config(
    corp_id: str, values: Mapping[str, Any], *, base_url: str, timeout_seconds: float
) -> WeComPayConfig | None:
    """The tenant's WeCom Pay credentials (its ``wecom-pay`` secret), or None when it has none."""
    from incentives.payouts.wecom_pay import WeComPayConfig

    if not values:
        return None
    try:
        return WeComPayConfig(
            corp_id=corp_id,
            mch_id=str(values["mch_id"]),
            api_key=str(values["api_key"]),
            payment_secret=str(values["payment_secret"]),
            agent_id=str(values["agent_id"]),
            base_url=base_url,
            cert_file=values.get("cert_file"),
            key_file=values.get("key_file"),
            timeout_seconds=timeout_seconds,
        )
    except KeyError as missing:
        raise InvalidInput(f"wecom_pay of {corp_id} lacks {missing}", field="wecom_pay") from None


def wechat_pay_config(
    corp_id: str, values: Mapping[str, Any], *, base_url: str, timeout_seconds: float
) -> WeChatTransferConfig | None:
    """The tenant's WeChat Pay v3 credentials (transfers to a user's wallet), or None when absent.

    Its ``wechat-pay`` secret: ``mch_id``, ``appid``, ``serial_no``, ``private_key_pem``; optional
    ``transfer_scene_id`` (``1000``), ``scene_report_infos`` (``[{"info_type", "info_content"}]``),
    ``user_recv_perception``, ``notify_url`` (this stack's ``/payments/wechat/notify/<corp_id>``),
    ``api_v3_key`` (decrypts notifications), ``wechatpay_public_key_pem`` and
    ``wechatpay_public_key_id`` (``PUB_KEY_ID_…``: answers and notifications must verify with it).
    """
    from incentives.payouts.wechat_transfer import WeChatTransferConfig

    if not values:
        return None
    optional: dict[str, Any] = {
        key: str(values[key])
        for key in (
            "transfer_scene_id",
            "user_recv_perception",
            "notify_url",
            "api_v3_key",
            "wechatpay_public_key_pem",
            "wechatpay_public_key_id",
        )
        if values.get(key)
    }
    try:
        if values.get("scene_report_infos"):
            optional["scene_report_infos"] = tuple(
                (str(info["info_type"]), str(info["info_content"])) for info in values["scene_report_infos"]
            )
        return WeChatTransferConfig(
            mch_id=str(values["mch_id"]),
            appid=str(values["appid"]),
            serial_no=str(values["serial_no"]),
            private_key_pem=str(values["private_key_pem"]),
            base_url=base_url,
            timeout_seconds=timeout_seconds,
            **optional,
        )
    except KeyError as missing:
        raise InvalidInput(f"wechat_pay of {corp_id} lacks {missing}", field="wechat_pay") from None
    except TypeError:
        raise InvalidInput(
            f"wechat_pay of {corp_id}: scene_report_infos must be a list of objects", field="wechat_pay"
        ) from None


def notify_keys(corp_id: str, values: Any) -> NotifyKeys:
    """What the tenant needs to trust and read WeChat Pay's notifications; an unknown tenant or one
    without the WeChat Pay public key and APIv3 key is refused like a bad signature."""
    from incentives.payouts.wechat_notify import NotifyKeys

    needed = ("mch_id", "wechatpay_public_key_pem", "wechatpay_public_key_id", "api_v3_key")
    if not isinstance(values, dict) or not all(values.get(key) for key in needed):
        raise Unauthenticated(
            f"no WeChat Pay public key and APIv3 key for corp {corp_id}", field="Wechatpay-Serial"
        )
    return NotifyKeys(*(str(values[key]) for key in needed))


def payout_providers(
    corp_id: str, wecom_pay: WeComPayConfig | None, wechat_pay: WeChatTransferConfig | None
) -> dict[ProviderName, PayoutProvider]:
    """The providers a tenant's configs make (offline payouts need none)."""
    from incentives.payouts.model import ProviderName
    from incentives.payouts.wecom_pay import WeComPayToEmployee

    providers: dict[ProviderName, PayoutProvider] = {}
    if wecom_pay is not None:
        providers[ProviderName.WECOM_PAY] = WeComPayToEmployee(wecom_pay)
    if wechat_pay is not None:
        from incentives.payouts.wechat_transfer import WeChatTransfer

        try:
            providers[ProviderName.WECHAT_TRANSFER] = WeChatTransfer(wechat_pay)
        except (ValueError, TypeError):
            raise InvalidInput(
                f"wechat_pay of {corp_id}: private_key_pem or wechatpay_public_key_pem is not an RSA key",
                field="wechat_pay",
            ) from None
    return providers
