"""An affiliate's automatic withdrawal, paid by a WeChat Pay transfer the affiliate confirms: the
worker, the affiliate API, the notification handler and the reconciler on the handlers, against
moto and the payments sandbox over HTTP (SPEC §4.7)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incentives.ledger.model import Bucket
from incentives.runtime import wiring
from infra.local.sandboxes.payments import Notice
from tests.conftest import StackHandle
from tests.integration.test_affiliates import _settled, admin, balance, configure, join, mine
from tests.support import api_event

NOTIFY = "WechatPayNotifyFunction"
WITHDRAWALS = "/affiliate/withdrawals"


def _approved(
    stack: StackHandle, who: str = "A", amount_fen: int = 1_000, request_id: str = "w1"
) -> dict[str, Any]:
    configure(stack)
    join(stack, who)
    _settled(stack, who, f"SO-{request_id}", 10 * amount_fen)
    asked = mine(stack, who, "POST", WITHDRAWALS, json={"amount_fen": amount_fen, "request_id": request_id})
    admin(
        stack,
        "POST",
        "/admin/affiliates/withdrawals/{withdrawal_id}/approve",
        path_parameters={"withdrawal_id": asked["withdrawal_id"]},
        json={},
    )
    stack.feed("PayoutWorkerFunction", "PayoutQueue")
    return dict(asked)


def _shown(stack: StackHandle, who: str = "A") -> dict[str, Any]:
    [shown] = mine(stack, who, "GET", WITHDRAWALS)
    return dict(shown)


def _notify(
    stack: StackHandle, notice: Notice, corp_id: str | None = "ww-local-corp", **tamper: Any
) -> tuple[int, str]:
    """POST a notification to the handler as API Gateway would; the tenant in the path."""
    headers = {**notice.headers, "Content-Type": "application/json", **tamper.get("headers", {})}
    body = tamper.get("body", notice.body)
    if corp_id is None:
        event = api_event("POST", "/payments/wechat/notify", body=body.decode())
    else:
        event = api_event(
            "POST",
            "/payments/wechat/notify/{corp_id}",
            path_parameters={"corp_id": corp_id},
            body=body.decode(),
        )
    event.update(headers=headers, multiValueHeaders={k: [v] for k, v in headers.items()})
    if tamper.get("base64"):
        event.update(body=base64.b64encode(body).decode(), isBase64Encoded=True)
    answer = stack.invoke(NOTIFY, event)
    return int(answer["statusCode"]), answer.get("body") or ""


def _payout(stack: StackHandle, payout_id: str) -> Any:
    found = wiring.payout_repository().get("ww-local-corp", payout_id)
    assert found is not None
    return found


def test_the_affiliate_sees_what_to_confirm_then_the_notification_pays_once(stack: StackHandle) -> None:
    asked = _approved(stack)
    shown = _shown(stack)
    assert shown["status"] == "awaiting_confirmation" and shown["confirm_by"]
    bill = stack.payments.bill(asked["payout_id"])
    assert bill is not None
    assert shown["confirmation"] == {
        "mch_id": stack.config.wechat_pay_mch_id,
        "app_id": stack.config.wechat_pay_appid,
        "package_info": bill["package_info"],
    }
    assert stack.payments.transfers_made() == [] and balance("A")[Bucket.RESERVED] == 1_000
    stack.feed("PayoutWorkerFunction", "PayoutQueue")  # nothing left; a redelivery would change nothing
    confirmation = shown["confirmation"]
    status, _ = stack.payments.payee_acts(
        asked["payout_id"],
        "confirm",
        {
            "package": confirmation["package_info"],
            "mch_id": confirmation["mch_id"],
            "app_id": confirmation["app_id"],
        },
    )
    assert status == 200
    [notice] = stack.payments.outbox
    assert notice.url == stack.config.notify_url("ww-local-corp")
    assert _notify(stack, notice) == (204, "")
    assert _notify(stack, notice, base64=True) == (204, "")  # WeChat Pay repeats it: nothing more
    paid = _shown(stack)
    assert paid["status"] == "paid" and paid["reference"] == bill["transfer_bill_no"]
    after = balance("A")
    assert after[Bucket.PAID] == 1_000 and after[Bucket.RESERVED] == 0 and after.violations() == []
    assert [t["number"] for t in stack.payments.transfers_made()] == [asked["payout_id"]]


def test_a_declined_transfer_is_cancelled_and_released_to_the_affiliate(stack: StackHandle) -> None:
    asked = _approved(stack)
    stack.payments.payee_acts(asked["payout_id"], "decline")
    [notice] = stack.payments.outbox
    assert _notify(stack, notice, corp_id=None) == (204, "")  # the default tenant's route
    shown = _shown(stack)
    assert shown["status"] == "cancelled" and shown["failure_reason"]
    after = balance("A")
    assert after[Bucket.SETTLED] == 1_000 and after[Bucket.RESERVED] == 0
    again = mine(stack, "A", "POST", WITHDRAWALS, json={"amount_fen": 1_000, "request_id": "w2"})
    assert again["status"] == "pending_review"  # the released amount can be withdrawn again


def test_a_failure_shows_failed_with_its_reason_and_can_be_cancelled(stack: StackHandle) -> None:
    asked = _approved(stack)
    stack.payments.payee_acts(asked["payout_id"], "fail", {"reason": "ACCOUNT_FROZEN"})
    assert _notify(stack, stack.payments.outbox[0]) == (204, "")
    shown = _shown(stack)
    assert (shown["status"], shown["failure_reason"]) == ("failed", "the transfer failed: ACCOUNT_FROZEN")
    cancelled = admin(
        stack,
        "POST",
        "/admin/affiliates/withdrawals/{withdrawal_id}/cancel",
        path_parameters={"withdrawal_id": asked["withdrawal_id"]},
    )
    assert cancelled["status"] == "cancelled" and balance("A")[Bucket.RESERVED] == 0


@pytest.mark.parametrize(
    "tamper",
    [
        {"headers": {"Wechatpay-Signature": base64.b64encode(b"x" * 256).decode()}},
        {"headers": {"Wechatpay-Serial": "PUB_KEY_ID_SOMEONE_ELSE"}},
        {"headers": {"Wechatpay-Timestamp": "1700000000"}},
        {"body_change": True},
    ],
    ids=["forged signature", "unknown key", "stale", "tampered body"],
)
def test_a_forged_notification_is_refused_401_and_changes_nothing(
    stack: StackHandle, tamper: dict[str, Any]
) -> None:
    asked = _approved(stack)
    bill = stack.payments.bill(asked["payout_id"])
    assert bill is not None
    stack.payments.payee_acts(asked["payout_id"], "confirm", {"package": bill["package_info"]})
    [notice] = stack.payments.outbox
    if tamper.pop("body_change", False):
        tamper["body"] = notice.body.replace(b"mch_payment", b"mch_paymenu")
    status, body = _notify(stack, notice, **tamper)
    assert status == 401 and json.loads(body)["code"] == "FAIL"
    assert _shown(stack)["status"] == "awaiting_confirmation" and balance("A")[Bucket.PAID] == 0


def test_a_notification_for_an_unconfigured_tenant_or_that_does_not_decrypt_is_refused(
    stack: StackHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _approved(stack)
    stack.payments.payee_acts(asked["payout_id"], "decline")
    [notice] = stack.payments.outbox
    assert _notify(stack, notice, corp_id="ww-unknown")[0] == 401
    from incentives.runtime.secrets import SecretPurpose

    real = wiring.tenant_secret

    def wrong_key(corp_id: str, purpose: SecretPurpose) -> dict[str, object]:
        values = dict(real(corp_id, purpose))
        return {**values, "api_v3_key": "f" * 32} if purpose is SecretPurpose.WECHAT_PAY_NOTIFY else values

    monkeypatch.setattr(wiring, "tenant_secret", wrong_key)
    status, body = _notify(stack, notice)
    assert status == 400 and "decrypt" in json.loads(body)["message"]
    assert _shown(stack)["status"] == "awaiting_confirmation" and balance("A")[Bucket.RESERVED] == 1_000


def test_the_reconciler_cancels_past_the_deadline_and_the_outcome_releases(stack: StackHandle) -> None:
    asked = _approved(stack)
    fire = lambda at: stack.fire("PayoutReconcilerFunction", at)  # noqa: E731
    now = datetime.now(UTC)
    assert fire(now + timedelta(hours=2))["cancel_requested"] == 0  # checked: still waiting
    assert _payout(stack, asked["payout_id"]).status.value == "awaiting_confirmation"
    assert fire(now + timedelta(hours=25))["cancel_requested"] == 1
    assert stack.payments.bill(asked["payout_id"])["state"] == "CANCELLED"  # type: ignore[index]
    assert _notify(stack, stack.payments.outbox[-1]) == (204, "")
    assert _shown(stack)["status"] == "cancelled" and balance("A")[Bucket.RESERVED] == 0
    assert stack.payments.transfers_made() == []
