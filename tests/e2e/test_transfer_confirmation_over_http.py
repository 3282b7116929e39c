"""An affiliate's automatic withdrawal on the running stack, paid by a WeChat Pay transfer the
affiliate confirms (SPEC §4.7): it waits for the payee, the sandbox payee confirms with what the
distribution center showed, WeChat Pay's signed notification reaches /payments/wechat/notify and
the payout is paid once; a declined one is released; a forged notification is refused."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.e2e.conftest import RunningStack
from tests.e2e.test_wecom_over_http import _token

pytestmark = pytest.mark.e2e
PROGRAM = {
    "promotion_enabled": True,
    "invitation_image_url": "https://img.example.com/invite.png",
    "commission_rate_bp": 1000,
    "withdrawal_threshold_fen": 100,
    "application": {"mode": "apply", "review": "auto", "match": "none"},
}


def _call(stack: RunningStack, method: str, path: str, token: str, **kwargs: Any) -> Any:
    response = requests.request(
        method, f"{stack.api_url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30, **kwargs
    )
    assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
    return response.json()


def _withdrawable(stack: RunningStack, affiliate: str, amount_fen: int) -> None:
    """Settled commission for the affiliate, written through the layer into the stack's table."""
    from incentives.ledger import postings
    from incentives.ledger.model import Account, OwnerKind
    from incentives.storage.dynamo_table import DynamoTable
    from incentives.storage.ledger import LedgerRepository

    now = datetime.now(UTC)
    ledger = LedgerRepository(DynamoTable(stack.client("dynamodb"), f"{stack.stack_name}-IncentivesTable"))
    owner, credit = Account("ww-local-corp", OwnerKind.AFFILIATE, affiliate), f"credit:e2e-{affiliate}"
    ledger.credit(postings.credit(owner, credit, amount_fen, now), hold_until=now)
    hold = ledger.hold(owner, credit)
    assert hold is not None
    ledger.settle(hold, postings.settlement(hold, now), now)


def _waiting_withdrawal(stack: RunningStack, affiliate: str, amount_fen: int) -> tuple[str, dict[str, Any]]:
    """The affiliate joins, withdraws, the admin approves: the transfer waits for the affiliate."""
    admin = _token(stack, "--role", "admin")
    token = _token(stack, "--role", "affiliate", "--sub", affiliate)
    _call(stack, "PUT", "/admin/affiliates/settings", admin, json=PROGRAM)
    _call(stack, "POST", "/affiliate/application", token, json={"openid": f"openid-{affiliate}"})
    _withdrawable(stack, affiliate, amount_fen)
    asked = _call(
        stack, "POST", "/affiliate/withdrawals", token, json={"amount_fen": amount_fen, "request_id": "e2e"}
    )
    _call(stack, "POST", f"/admin/affiliates/withdrawals/{asked['withdrawal_id']}/approve", admin, json={})
    [waiting] = stack.wait_for(
        lambda: [
            w
            for w in _call(stack, "GET", "/affiliate/withdrawals", token)
            if w["status"] == "awaiting_confirmation"
        ],
        timeout=60,
        what="the transfer waiting for the affiliate's confirmation",
    )
    return token, waiting


def _sandbox(stack: RunningStack, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, f"{stack.payments_url}/sandbox/{path}", timeout=10, **kwargs)


def _executed(stack: RunningStack, payout_id: str) -> list[dict[str, Any]]:
    made = _sandbox(stack, "GET", "transfers").json()["transfers"]
    return [transfer for transfer in made if transfer["number"] == payout_id]


def _status(stack: RunningStack, token: str) -> str:
    [withdrawal] = _call(stack, "GET", "/affiliate/withdrawals", token)
    return str(withdrawal["status"])


def test_a_confirmed_transfer_is_paid_once_through_the_signed_notification(
    running_stack: RunningStack,
) -> None:
    stack = running_stack
    token, waiting = _waiting_withdrawal(stack, "e2e-confirm", 2_300)
    payout_id, confirmation = waiting["payout_id"], waiting["confirmation"]
    assert set(confirmation) == {"mch_id", "app_id", "package_info"} and waiting["confirm_by"]
    assert _executed(stack, payout_id) == []  # nothing moves before the affiliate confirms

    # What the mini program passes to wx.requestMerchantTransfer, the sandbox payee passes back.
    confirmed = _sandbox(
        stack,
        "POST",
        f"transfer-bills/{payout_id}/confirm",
        json={
            "mch_id": confirmation["mch_id"],
            "app_id": confirmation["app_id"],
            "package": confirmation["package_info"],
        },
    )
    assert confirmed.status_code == 200, confirmed.text
    stack.wait_for(lambda: _status(stack, token) == "paid", timeout=60, what="the withdrawal paid")

    def delivered() -> list[tuple[str, int]]:  # the sandbox notes a delivery once it has our answer
        deliveries = _sandbox(stack, "GET", "notifications").json()["deliveries"]
        return [(d["state"], d["status"]) for d in deliveries if d["out_bill_no"] == payout_id]

    assert stack.wait_for(delivered, timeout=30, what="the notification's delivery") == [("SUCCESS", 204)]

    assert _sandbox(stack, "POST", f"transfer-bills/{payout_id}/notify").status_code == 200  # sent again
    stack.wait_for(
        lambda: (
            len(
                [
                    d
                    for d in _sandbox(stack, "GET", "notifications").json()["deliveries"]
                    if d["out_bill_no"] == payout_id
                ]
            )
            == 2
        ),
        timeout=30,
        what="the repeated notification answered",
    )
    assert [transfer["amount_fen"] for transfer in _executed(stack, payout_id)] == [2_300]
    balance = _call(stack, "GET", "/affiliate/center", token)["balance"]
    assert balance["paid"] == 2_300 and balance["reserved"] == 0


def test_a_declined_transfer_is_released_back_to_the_affiliate(running_stack: RunningStack) -> None:
    stack = running_stack
    token, waiting = _waiting_withdrawal(stack, "e2e-decline", 1_800)
    assert _sandbox(stack, "POST", f"transfer-bills/{waiting['payout_id']}/decline").status_code == 200
    stack.wait_for(lambda: _status(stack, token) == "cancelled", timeout=60, what="the withdrawal cancelled")
    assert _executed(stack, waiting["payout_id"]) == []
    balance = _call(stack, "GET", "/affiliate/center", token)["balance"]
    assert balance["settled"] == 1_800 and balance["reserved"] == 0 and balance["paid"] == 0


def test_a_forged_notification_is_refused_and_changes_nothing(running_stack: RunningStack) -> None:
    stack = running_stack
    token, waiting = _waiting_withdrawal(stack, "e2e-forged", 1_500)
    bill = _sandbox(stack, "GET", f"transfer-bills/{waiting['payout_id']}").json()
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body = json.dumps(
        {
            "id": "forged-1",
            "create_time": datetime.now(UTC).isoformat(),
            "resource_type": "encrypt-resource",
            "event_type": "MCHTRANSFER.BILL.FINISHED",
            "summary": "商家转账单据终态通知",
            "resource": {
                "original_type": "mch_payment",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(json.dumps(bill).encode()).decode(),
                "associated_data": "mch_payment",
                "nonce": "0123456789ab",
            },
        }
    ).encode()
    stamp, nonce = str(int(time.time())), "forgednonce"
    signature = forger.sign(
        f"{stamp}\n{nonce}\n".encode() + body + b"\n", padding.PKCS1v15(), hashes.SHA256()
    )
    headers = {
        "Content-Type": "application/json",
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": base64.b64encode(signature).decode(),
        "Wechatpay-Serial": stack.env.get(
            "WECHAT_PAY_PUBLIC_KEY_ID", "PUB_KEY_ID_0119000001092026000000000000000001"
        ),
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }
    refused = requests.post(f"{stack.api_url}/payments/wechat/notify", data=body, headers=headers, timeout=10)
    assert refused.status_code == 401 and refused.json()["code"] == "FAIL"
    assert _status(stack, token) == "awaiting_confirmation"
    assert _call(stack, "GET", "/affiliate/center", token)["balance"]["reserved"] == 1_500
