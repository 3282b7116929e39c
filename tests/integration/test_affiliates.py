"""The affiliate program end to end on the handlers: settings, joining, binding, commissions,
settlement, withdrawals, the distribution center and the console (seeds 001 and 003)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

from incentives.core import clock
from incentives.ledger.model import Bucket
from incentives.runtime import wiring
from tests.conftest import StackHandle
from tests.support import sample_body, token_for, webhook_event

ADMIN_API, CENTER_API = "AffiliateAdminApiFunction", "AffiliateApiFunction"
NOW = datetime.combine(
    datetime.now(ZoneInfo("Asia/Shanghai")).date() - timedelta(days=1),
    time(12),
    tzinfo=ZoneInfo("Asia/Shanghai"),
).astimezone(UTC)
"""Yesterday noon in the merchant's zone: "today" in the center's figures never straddles midnight."""
PROGRAM: dict[str, Any] = {
    "promotion_enabled": True,
    "invitation_image_url": "https://img.example.com/invite.png",
    "commission_rate_bp": 1000,
    "invite_rate_bp": 500,
    "withdrawal_threshold_fen": 100,
    "after_sales_window_days": 7,
    "application": {"mode": "apply", "review": "auto", "match": "none"},
}


_PIN = mock.patch.object(clock.SystemClock, "now", lambda self: NOW)
_pinned = threading.Lock()
_callers = 0


@contextlib.contextmanager
def at_merchant_noon() -> Iterator[None]:
    """The handlers' clock reads NOW while any API call is in flight (calls may run in threads)."""
    global _callers
    with _pinned:
        if _callers == 0:
            _PIN.start()
        _callers += 1
    try:
        yield
    finally:
        with _pinned:
            _callers -= 1
            if _callers == 0:
                _PIN.stop()


def call(
    stack: StackHandle, function: str, method: str, resource: str, token: str, **kwargs: Any
) -> tuple[int, Any]:
    """One API call, answered as if at NOW: "today" in the figures is the day the events are in,
    whatever the time of day the suite runs at (the webhook keeps the real clock for its signatures)."""
    with at_merchant_noon():
        return stack.api(function, method, resource, token, **kwargs)


def admin(stack: StackHandle, method: str, resource: str, **kwargs: Any) -> Any:
    status, body = call(stack, ADMIN_API, method, resource, token_for("admin"), **kwargs)
    assert status == 200, body
    return body


def mine(stack: StackHandle, who: str, method: str, resource: str, **kwargs: Any) -> Any:
    status, body = call(stack, CENTER_API, method, resource, token_for("affiliate", subject=who), **kwargs)
    assert status == 200, body
    return body


def store_approved(stack: StackHandle, who: str, store_id: str) -> None:
    """The affiliate asks to promote a store; the merchant approves (promotable stores `applied`)."""
    ids = {"affiliate_id": who, "store_id": store_id}
    mine(
        stack, who, "POST", "/affiliate/stores/{store_id}/application", path_parameters={"store_id": store_id}
    )
    admin(
        stack,
        "POST",
        "/admin/affiliates/{affiliate_id}/stores/{store_id}/review",
        path_parameters=ids,
        json={"approve": True},
    )


def configure(stack: StackHandle, **changes: Any) -> dict[str, Any]:
    return admin(stack, "PUT", "/admin/affiliates/settings", json={**PROGRAM, **changes})


def join(stack: StackHandle, who: str, invited_by: str | None = None) -> dict[str, Any]:
    return mine(
        stack,
        who,
        "POST",
        "/affiliate/application",
        json={"answers": {}, "openid": f"openid-{who}", "invited_by": invited_by},
    )


def send(stack: StackHandle, body: dict[str, Any]) -> None:
    assert stack.invoke("OrderWebhookFunction", webhook_event(body))["statusCode"] == 202
    stack.process_queue()


def at(moment: datetime) -> str:
    return moment.isoformat()


def click(stack: StackHandle, customer: str, affiliate: str, when: datetime) -> None:
    body = sample_body("referral_clicked")
    body.update(event_id=f"click-{customer}-{affiliate}-{int(when.timestamp())}", occurred_at=at(when))
    body["data"].update(customer_id=customer, affiliate_id=affiliate, clicked_at=at(when))
    send(stack, body)


def pay(stack: StackHandle, order_id: str, customer: str, paid_fen: int, when: datetime, **data: Any) -> None:
    body = sample_body("order_paid")
    body.update(event_id=f"paid-{order_id}", occurred_at=at(when))
    body["data"].update(order_id=order_id, customer_id=customer, paid_at=at(when), **data)
    body["data"]["source"] = {"scene": "share"}
    body["data"]["lines"] = [
        dict(
            body["data"]["lines"][0],
            line_id="L1",
            paid_fen=paid_fen,
            payable_fen=paid_fen + 500,
            discount_fen=500,
        )
    ]
    send(stack, body)


def refund(stack: StackHandle, order_id: str, refund_id: str, fen: int, when: datetime) -> None:
    body = sample_body("order_refunded")
    body.update(event_id=f"refund-{refund_id}", occurred_at=at(when))
    body["data"].update(
        order_id=order_id,
        refund_id=refund_id,
        refunded_at=at(when),
        lines=[{"line_id": "L1", "refund_fen": fen}],
    )
    send(stack, body)


def complete(stack: StackHandle, order_id: str, when: datetime) -> None:
    body = sample_body("order_completed")
    body.update(event_id=f"completed-{order_id}", occurred_at=at(when))
    body["data"].update(order_id=order_id, completed_at=at(when))
    send(stack, body)


def settle(stack: StackHandle, when: datetime) -> int:
    return int(stack.fire("LedgerSettlementFunction", when)["settled"])


def balance(who: str) -> Any:
    from incentives.storage.affiliates.earnings import account

    return wiring.ledger_repository().balance(account("ww-local-corp", who))


def test_seed_003_promoter_upline_and_customer_each_see_their_share(stack: StackHandle) -> None:
    configure(stack)
    join(stack, "B")
    join(stack, "A", invited_by="B")
    click(stack, "C", "A", NOW - timedelta(hours=2))
    pay(stack, "SO-003", "C", 10_000, NOW - timedelta(hours=1))

    a_center = mine(stack, "A", "GET", "/affiliate/center")
    b_center = mine(stack, "B", "GET", "/affiliate/center")
    assert a_center["figures"]["today_issued_fen"] == 1_000  # 10 % of 10,000
    assert b_center["figures"]["today_issued_fen"] == 500  # the upline's 5 % invite reward
    assert a_center["figures"]["receivable_fen"] == 10_500 and a_center["figures"]["paid_orders"] == 1
    assert a_center["promotion"] == {
        "customers": 1,
        "invited_affiliates": 0,
        "invited_members": 0,
        "orders": 1,
    }
    assert b_center["promotion"]["invited_affiliates"] == 1
    assert [(f["figure"], f["value"]) for f in a_center["shown"]] == [
        ("pending_settlement", 0),
        ("cumulative_rewards", 0),
        ("today_issued", 1_000),
        ("paid_orders", 1),
    ]  # the four the merchant shows by default, in order
    [a_order] = mine(stack, "A", "GET", "/affiliate/orders")
    [b_order] = mine(stack, "B", "GET", "/affiliate/orders")
    assert (a_order["role"], a_order["commission_fen"], a_order["state"]) == ("commission", 1_000, "pending")
    assert (b_order["role"], b_order["commission_fen"], b_order["affiliate_id"]) == ("invite", 500, "A")
    assert b_order["customer_id"] == ""  # the downline's customers stay theirs
    assert [d["affiliate_id"] for d in mine(stack, "B", "GET", "/affiliate/downline")] == ["A"]
    assert [c["customer_id"] for c in mine(stack, "A", "GET", "/affiliate/customers")] == ["C"]
    assert balance("A")[Bucket.PENDING] == 1_000 and balance("B")[Bucket.PENDING] == 500


def test_partial_refund_settlement_then_clawback_of_the_rest(stack: StackHandle) -> None:
    configure(stack, commission_rate_bp=500, invite_rate_bp=0)
    join(stack, "A")
    click(stack, "C", "A", NOW - timedelta(days=20))
    pay(stack, "SO-1", "C", 10_000, NOW - timedelta(days=19))
    refund(stack, "SO-1", "R1", 2_000, NOW - timedelta(days=18))
    assert balance("A")[Bucket.PENDING] == 400
    complete(stack, "SO-1", NOW - timedelta(days=10))
    assert settle(stack, NOW - timedelta(days=4)) == 0  # the window is still open
    assert settle(stack, NOW) == 1
    after = balance("A")
    assert after[Bucket.SETTLED] == 400 and after[Bucket.PENDING] == 0
    [record] = mine(stack, "A", "GET", "/affiliate/orders")
    assert record["state"] == "settled" and record["net_fen"] == 400

    refund(stack, "SO-1", "R2", 8_000, NOW)
    late = balance("A")
    assert late[Bucket.CLAWED_BACK] == 400 and late[Bucket.SETTLED] == 0
    assert late.violations() == []
    center = mine(stack, "A", "GET", "/affiliate/center")["figures"]
    assert center["today_returned_fen"] == 400


def test_two_concurrent_withdrawals_of_the_whole_balance_exactly_one_succeeds(stack: StackHandle) -> None:
    configure(stack, commission_rate_bp=1000)
    join(stack, "A")
    click(stack, "C", "A", NOW - timedelta(days=20))
    pay(stack, "SO-2", "C", 10_000, NOW - timedelta(days=19))
    complete(stack, "SO-2", NOW - timedelta(days=10))
    settle(stack, NOW)
    assert balance("A")[Bucket.SETTLED] == 1_000
    # Both requests pass the balance check before either reserves (each on its own instance of the
    # function, sharing the endpoint); the reserve's own condition must then refuse the second one.
    ledger = wiring.ledger_repository()
    both_checked = threading.Barrier(2, timeout=10)
    read_balance = ledger.balance

    def checked_balance(account: Any) -> Any:
        found = read_balance(account)
        both_checked.wait()
        return found

    ledger.balance = checked_balance  # type: ignore[method-assign]
    answers: list[int] = []

    def withdraw(request_id: str) -> None:
        status, _ = stack.api(
            CENTER_API,
            "POST",
            "/affiliate/withdrawals",
            token_for("affiliate", subject="A"),
            json={"amount_fen": 1_000, "request_id": request_id},
        )
        answers.append(status)

    # The clock is patched once around both threads: patching it in each (``call``) could leave it
    # patched for the rest of the session when the two patches interleave.
    threads = [threading.Thread(target=withdraw, args=(f"req-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    del ledger.balance
    assert sorted(answers) == [200, 409]
    after = balance("A")
    assert after[Bucket.SETTLED] == 0 and after[Bucket.RESERVED] == 1_000


def _settled(stack: StackHandle, who: str, order_id: str, paid_fen: int) -> None:
    click(stack, f"cust-{order_id}", who, NOW - timedelta(days=20))
    pay(stack, order_id, f"cust-{order_id}", paid_fen, NOW - timedelta(days=19))
    complete(stack, order_id, NOW - timedelta(days=10))
    settle(stack, NOW)


def test_the_reserve_itself_refuses_to_overdraw_when_both_requests_read_the_balance_first(
    stack: StackHandle,
) -> None:
    from incentives.ledger.errors import InsufficientBalance
    from incentives.storage.affiliates import withdrawals
    from incentives.storage.affiliates.earnings import account
    from incentives.storage.affiliates.withdrawals import WithdrawalInput

    configure(stack)
    join(stack, "A")
    _settled(stack, "A", "SO-R", 10_000)
    ledger = wiring.ledger_repository()
    balance_account = account("ww-local-corp", "A")
    stale = ledger.balance(balance_account)
    ledger.balance = lambda account: stale  # type: ignore[method-assign]  # both read before either reserved
    first = withdrawals.request(
        wiring.table(), ledger, "ww-local-corp", "A", WithdrawalInput(amount_fen=1_000, request_id="one"), NOW
    )
    assert first["status"] == "pending_review"
    try:
        withdrawals.request(
            wiring.table(),
            ledger,
            "ww-local-corp",
            "A",
            WithdrawalInput(amount_fen=1_000, request_id="two"),
            NOW,
        )
    except InsufficientBalance:
        pass
    else:
        raise AssertionError("the second reserve overdrew the balance")
    del ledger.balance
    assert ledger.balance(balance_account)[Bucket.SETTLED] == 0


def test_a_withdrawal_below_the_threshold_or_above_the_balance_is_refused_and_changes_nothing(
    stack: StackHandle,
) -> None:
    configure(stack, withdrawal_threshold_fen=500)
    join(stack, "A")
    _settled(stack, "A", "SO-T", 10_000)
    token = token_for("affiliate", subject="A")
    low = call(
        stack,
        CENTER_API,
        "POST",
        "/affiliate/withdrawals",
        token,
        json={"amount_fen": 499, "request_id": "x"},
    )
    high = call(
        stack,
        CENTER_API,
        "POST",
        "/affiliate/withdrawals",
        token,
        json={"amount_fen": 1_001, "request_id": "y"},
    )
    assert low[0] == 400 and low[1]["error"]["field"] == "amount_fen"
    assert high[0] == 409 and high[1]["error"]["field"] == "amount_fen"
    assert balance("A")[Bucket.SETTLED] == 1_000
    assert mine(stack, "A", "GET", "/affiliate/withdrawals") == []


def test_rejecting_releases_and_a_manual_settlement_records_the_reference(stack: StackHandle) -> None:
    configure(stack)
    join(stack, "A")
    _settled(stack, "A", "SO-M", 10_000)
    payee = {"channel": "alipay", "account": "13812345678", "name": "王小明"}
    asked = {"amount_fen": 600, "request_id": "m1", "payee_account": payee}
    first = mine(stack, "A", "POST", "/affiliate/withdrawals", json=asked)
    assert first["payee_account"] == {"channel": "alipay", "account": "138****5678", "name": "王**"}
    again = mine(stack, "A", "POST", "/affiliate/withdrawals", json=asked)
    assert again["withdrawal_id"] == first["withdrawal_id"]  # the same request, not a second one
    second = mine(stack, "A", "POST", "/affiliate/withdrawals", json={"amount_fen": 400, "request_id": "m2"})
    assert balance("A")[Bucket.RESERVED] == 1_000
    path = "/admin/affiliates/withdrawals/{withdrawal_id}"
    rejected = admin(
        stack,
        "POST",
        path + "/reject",
        path_parameters={"withdrawal_id": second["withdrawal_id"]},
        json={"reason": "账户信息有误"},
    )
    assert rejected["status"] == "rejected" and balance("A")[Bucket.SETTLED] == 400
    status, _ = call(
        stack,
        ADMIN_API,
        "POST",
        path + "/approve",
        token_for("admin"),
        path_parameters={"withdrawal_id": second["withdrawal_id"]},
        json={"settlement": "manual"},
    )
    assert status == 409  # rejected already; and it named no account to transfer to
    ids = {"withdrawal_id": first["withdrawal_id"]}
    [listed] = [
        w
        for w in admin(stack, "GET", "/admin/affiliates/withdrawals")["items"]
        if w["withdrawal_id"] in ids.values()
    ]
    assert listed["payee_account"] == payee  # the reviewing admin sees where to transfer
    approved = admin(stack, "POST", path + "/approve", path_parameters=ids, json={"settlement": "manual"})
    assert approved["status"] == "approved" and approved["payee_account"] == payee
    paid = admin(stack, "POST", path + "/settle", path_parameters=ids, json={"reference": "ALIPAY-8831"})
    assert paid["status"] == "paid" and paid["reference"] == "ALIPAY-8831"
    assert paid["payee_account"]["account"] == "138****5678"  # transferred: masked again
    after = balance("A")
    assert after[Bucket.PAID] == 600 and after[Bucket.RESERVED] == 0 and after.violations() == []
    status, _ = call(
        stack,
        ADMIN_API,
        "POST",
        path + "/settle",
        token_for("admin"),
        path_parameters=ids,
        json={"reference": "again"},
    )
    assert status == 409 and balance("A")[Bucket.PAID] == 600


def test_an_approved_withdrawal_is_a_wechat_transfer_bill_under_its_payout_id(stack: StackHandle) -> None:
    """The bill waits for the affiliate's confirmation (tests/integration/test_transfer_confirmation.py
    follows it to paid, cancelled and failed)."""
    configure(stack)
    join(stack, "A")
    _settled(stack, "A", "SO-W", 10_000)
    asked = mine(stack, "A", "POST", "/affiliate/withdrawals", json={"amount_fen": 1_000, "request_id": "w1"})
    ids = {"withdrawal_id": asked["withdrawal_id"]}
    approved = admin(
        stack, "POST", "/admin/affiliates/withdrawals/{withdrawal_id}/approve", path_parameters=ids, json={}
    )
    assert approved["status"] == "paying"
    stack.feed("PayoutWorkerFunction", "PayoutQueue")
    bill = stack.payments.bill(asked["payout_id"])
    assert bill is not None and (bill["transfer_amount"], bill["openid"]) == (1_000, "openid-A")
    [shown] = mine(stack, "A", "GET", "/affiliate/withdrawals")
    assert shown["status"] == "awaiting_confirmation"
    assert shown["confirmation"]["package_info"] == bill["package_info"]
    assert stack.payments.transfers_made() == [] and balance("A")[Bucket.RESERVED] == 1_000


def test_manual_review_and_masked_answers(stack: StackHandle) -> None:
    form = {
        "default_fields": {
            "name": {"enabled": True, "required": True},
            "mobile": {"enabled": True, "required": True},
            "id_card": {"enabled": True, "required": False},
        },
        "custom_fields": [],
    }
    configure(stack, application={"mode": "apply", "review": "manual", "match": "none", "form": form})
    token = token_for("affiliate", subject="D")
    missing = call(
        stack,
        CENTER_API,
        "POST",
        "/affiliate/application",
        token,
        json={"answers": {"name": "李娜"}, "openid": "openid-D"},
    )
    assert missing[0] == 400 and missing[1]["error"]["field"] == "answers.mobile"
    answers = {"name": "李娜", "mobile": "13812345678", "id_card": "11010519491231002X"}
    pending = mine(
        stack, "D", "POST", "/affiliate/application", json={"answers": answers, "openid": "openid-D"}
    )
    assert pending["status"] == "pending_review"
    assert pending["answers"]["mobile"] == "138****5678" and "0519491231" not in json.dumps(pending)
    pending_review = {"status": ["pending_review"]}
    [listed] = admin(stack, "GET", "/admin/affiliates/applications", query=pending_review)["items"]
    assert "13812345678" not in json.dumps(listed)
    assert call(stack, CENTER_API, "GET", "/affiliate/center", token)[0] == 404  # not an affiliate yet
    admin(
        stack,
        "POST",
        "/admin/affiliates/applications/{customer_id}/review",
        path_parameters={"customer_id": "D"},
        json={"approve": True},
    )
    assert mine(stack, "D", "GET", "/affiliate/center")["affiliate_id"] == "D"


def test_settings_limits_are_checked_and_a_bad_document_changes_nothing(stack: StackHandle) -> None:
    configure(stack)
    for bad, field in (
        ({"display_name": "七个字的名字啊"}, "display_name"),
        ({"invitation_title": "邀" * 26}, "invitation_title"),
        ({"binding_mode": "expiring"}, "binding_days"),
        ({"application": {"mode": "auto", "match": "none"}}, "application"),
        ({"commision_rate_bp": 100}, "commision_rate_bp"),
        ({"invitation_image_url": None}, "invitation_image_url"),
        ({"center": {"figures": ["today_issued"] * 2}}, "figures"),
    ):
        status, body = call(
            stack, ADMIN_API, "PUT", "/admin/affiliates/settings", token_for("admin"), json={**PROGRAM, **bad}
        )
        assert status == 400, (bad, body)
        assert field in json.dumps(body["error"]), (field, body)
    assert (
        admin(stack, "GET", "/admin/affiliates/settings")["commission_rate_bp"]
        == PROGRAM["commission_rate_bp"]
    )
    assert (
        call(stack, ADMIN_API, "GET", "/admin/affiliates/settings", token_for("operator", dept_ids=("1",)))[0]
        == 403
    )


def test_duplicate_and_reordered_order_events_credit_each_share_once(stack: StackHandle) -> None:
    configure(stack, commission_rate_bp=500, invite_rate_bp=0)
    join(stack, "A")
    click(stack, "C", "A", NOW - timedelta(days=3))
    refund(stack, "SO-X", "RX", 2_000, NOW - timedelta(days=1))  # the refund arrives before the payment
    pay(stack, "SO-X", "C", 10_000, NOW - timedelta(days=2))
    pay(stack, "SO-X", "C", 10_000, NOW - timedelta(days=2))  # redelivered
    refund(stack, "SO-X", "RX", 2_000, NOW - timedelta(days=1))
    after = balance("A")
    assert after[Bucket.EARNED] == 500 and after[Bucket.REVERSED] == 100 and after[Bucket.PENDING] == 400


def test_self_purchase_and_promotable_stores(stack: StackHandle) -> None:
    configure(stack, promotable_stores="applied")
    join(stack, "A")
    joined = NOW  # a self-purchase is an order paid once the buyer is an affiliate
    pay(stack, "SO-S1", "A", 10_000, joined + timedelta(seconds=1))  # self-purchase switched off: nothing
    click(stack, "C", "A", NOW - timedelta(hours=3))
    pay(stack, "SO-S2", "C", 10_000, NOW - timedelta(hours=2), store_id="store-a")  # store not approved
    assert balance("A")[Bucket.EARNED] == 0
    store_approved(stack, "A", "store-a")
    pay(stack, "SO-S3", "C", 10_000, NOW - timedelta(hours=1), store_id="store-a")
    assert balance("A")[Bucket.EARNED] == 1_000
    configure(stack, self_purchase_commission=True)
    pay(stack, "SO-S4", "A", 10_000, joined + timedelta(seconds=2), store_id="store-a")
    assert balance("A")[Bucket.EARNED] == 2_000


def test_commission_records_filter_and_export_as_csv(stack: StackHandle) -> None:
    configure(stack)
    join(stack, "B")
    join(stack, "A", invited_by="B")
    click(stack, "C", "A", NOW - timedelta(hours=2))
    pay(stack, "SO-C", "C", 10_000, NOW - timedelta(hours=1))
    both = admin(stack, "GET", "/admin/affiliates/commissions")
    assert {(r["role"], r["beneficiary_id"]) for r in both["items"]} == {("commission", "A"), ("invite", "B")}
    assert both["total_commission_fen"] == 1_500
    first = admin(stack, "GET", "/admin/affiliates/commissions", query={"limit": ["1"]})
    rest = admin(stack, "GET", "/admin/affiliates/commissions", query={"cursor": [first["next_cursor"]]})
    assert len(first["items"]) == 1 and first["records"] == 2 and rest["next_cursor"] is None
    assert {r["role"] for r in first["items"] + rest["items"]} == {"commission", "invite"}
    invites = admin(stack, "GET", "/admin/affiliates/commissions", query={"role": ["invite"]})
    assert [r["beneficiary_id"] for r in invites["items"]] == ["B"]
    status, text = call(
        stack,
        ADMIN_API,
        "GET",
        "/admin/affiliates/commissions",
        token_for("admin"),
        query={"format": ["csv"]},
    )
    assert status == 200 and text.lstrip("\ufeff").splitlines()[0].startswith("order_id,role,beneficiary_id")
    assert len(text.strip().splitlines()) == 3


def test_a_withdrawal_whose_payment_failed_for_good_can_be_cancelled_and_is_released(
    stack: StackHandle,
) -> None:
    configure(stack)
    join(stack, "A")
    _settled(stack, "A", "SO-F", 10_000)
    asked = mine(stack, "A", "POST", "/affiliate/withdrawals", json={"amount_fen": 1_000, "request_id": "f1"})
    ids = {"withdrawal_id": asked["withdrawal_id"]}
    early = call(
        stack,
        ADMIN_API,
        "POST",
        "/admin/affiliates/withdrawals/{withdrawal_id}/cancel",
        token_for("admin"),
        path_parameters=ids,
    )
    assert early[0] == 409  # still pending review: reject it instead
    for merchant in stack.payments.merchants.values():
        merchant.balance_fen = 0  # the merchant's account cannot pay: NOT_ENOUGH, a definite refusal
    admin(
        stack, "POST", "/admin/affiliates/withdrawals/{withdrawal_id}/approve", path_parameters=ids, json={}
    )
    stack.feed("PayoutWorkerFunction", "PayoutQueue")
    [failed] = mine(stack, "A", "GET", "/affiliate/withdrawals")
    assert failed["status"] == "failed" and failed["failure_reason"]
    cancelled = admin(
        stack, "POST", "/admin/affiliates/withdrawals/{withdrawal_id}/cancel", path_parameters=ids
    )
    assert cancelled["status"] == "cancelled"
    after = balance("A")
    assert after[Bucket.SETTLED] == 1_000 and after[Bucket.RESERVED] == 0 and after.violations() == []
    again = call(
        stack,
        "AdminApiFunction",
        "POST",
        "/admin/payouts/{payout_id}/requeue",
        token_for("admin"),
        path_parameters={"payout_id": asked["payout_id"]},
    )
    assert again[0] == 409  # a cancelled payout is never sent again


def test_conditions_are_checked_against_the_customers_recorded_activity(stack: StackHandle) -> None:
    application = {
        "mode": "auto",
        "match": "all",
        "conditions": [
            {"kind": "consumption_amount", "at_least_fen": 20_000},
            {"kind": "recharge_count", "at_least": 1},
        ],
    }
    configure(stack, application=application)
    token = token_for("affiliate", subject="E")
    status, body = call(
        stack, CENTER_API, "POST", "/affiliate/application", token, json={"openid": "openid-E"}
    )
    assert status == 409 and body["error"]["field"] == "conditions"
    pay(stack, "SO-E1", "E", 25_000, NOW - timedelta(hours=2))
    assert mine(stack, "E", "GET", "/affiliate/program")["my_eligibility"]["unmet"] == ["recharge_count"]
    recharge = sample_body("recharge_paid")
    recharge.update(event_id="recharge-E1", occurred_at=at(NOW))
    recharge["data"].update(customer_id="E", recharge_id="RC-E1", paid_at=at(NOW))
    send(stack, recharge)
    send(stack, recharge)  # redelivered: counted once
    assert mine(stack, "E", "GET", "/affiliate/program")["my_eligibility"]["eligible"] is True
    joined = mine(stack, "E", "POST", "/affiliate/application", json={"openid": "openid-E"})
    assert joined["status"] == "approved"
    assert mine(stack, "E", "GET", "/affiliate/center")["affiliate_id"] == "E"


def test_a_member_registered_through_an_invitation_counts_once_for_the_inviter(stack: StackHandle) -> None:
    configure(stack)
    join(stack, "A")
    body = sample_body("member_registered")
    body.update(event_id="member-M1", occurred_at=at(NOW))
    body["data"].update(customer_id="M1", registered_at=at(NOW), invited_by_affiliate_id="A")
    send(stack, body)
    send(stack, {**body, "event_id": "member-M1-again"})  # the member system sends it twice
    assert mine(stack, "A", "GET", "/affiliate/center")["promotion"]["invited_members"] == 1


def test_the_merchant_changes_an_affiliates_promotable_stores_and_types(stack: StackHandle) -> None:
    configure(stack)
    join(stack, "A")
    path, ids = "/admin/affiliates/{affiliate_id}", {"affiliate_id": "A"}
    changed = admin(
        stack, "PATCH", path, path_parameters=ids, json={"stores": ["store-a"], "types": ["goods"]}
    )
    assert changed["stores"] == ["store-a"] and changed["types"] == ["goods"]
    click(stack, "C", "A", NOW - timedelta(hours=2))
    pay(stack, "SO-P1", "C", 10_000, NOW - timedelta(hours=1), store_id="store-b")
    assert balance("A")[Bucket.EARNED] == 0  # not one of their stores
    everywhere = admin(stack, "PATCH", path, path_parameters=ids, json={"all_stores": True})
    assert everywhere["stores"] is None
    assert admin(stack, "GET", path, path_parameters=ids)["center"]["affiliate_id"] == "A"
    bad = call(
        stack, ADMIN_API, "PATCH", path, token_for("admin"), path_parameters=ids, json={"types": ["live"]}
    )
    assert bad[0] == 400


def test_a_request_id_reused_for_another_amount_is_refused(stack: StackHandle) -> None:
    configure(stack)
    join(stack, "A")
    _settled(stack, "A", "SO-Q", 10_000)
    mine(stack, "A", "POST", "/affiliate/withdrawals", json={"amount_fen": 300, "request_id": "q1"})
    status, body = call(
        stack,
        CENTER_API,
        "POST",
        "/affiliate/withdrawals",
        token_for("affiliate", subject="A"),
        json={"amount_fen": 400, "request_id": "q1"},
    )
    assert status == 409 and body["error"]["field"] == "request_id"
    assert balance("A")[Bucket.RESERVED] == 300


def test_promotable_stores_applied_is_program_wide_and_a_merchants_choice_still_stands(
    stack: StackHandle,
) -> None:
    """Seed 001 §2.1.2: switching to `applied` restricts affiliates who joined under `all` too, to the
    stores they applied for and got approved; a store chosen for one affiliate by the merchant stands."""
    configure(stack)  # every store
    join(stack, "A")
    join(stack, "B")
    path = "/admin/affiliates/{affiliate_id}"
    admin(stack, "PATCH", path, path_parameters={"affiliate_id": "B"}, json={"stores": ["store-b"]})
    configure(stack, promotable_stores="applied")
    click(stack, "C", "A", NOW - timedelta(hours=3))
    click(stack, "D", "B", NOW - timedelta(hours=3))
    pay(stack, "SO-W1", "C", 10_000, NOW - timedelta(hours=2), store_id="store-a")
    assert balance("A")[Bucket.EARNED] == 0  # joined under `all`, restricted now: store-a not approved
    assert admin(stack, "GET", path, path_parameters={"affiliate_id": "A"})["stores"] == []
    store_approved(stack, "A", "store-a")
    pay(stack, "SO-W2", "C", 10_000, NOW - timedelta(hours=1), store_id="store-a")
    assert balance("A")[Bucket.EARNED] == 1_000
    pay(stack, "SO-W3", "D", 10_000, NOW - timedelta(hours=1), store_id="store-b")
    assert balance("B")[Bucket.EARNED] == 1_000  # the merchant's choice for B stands
    viewed = admin(stack, "GET", path, path_parameters={"affiliate_id": "B"})
    assert viewed["stores"] == ["store-b"] and viewed["stores_set_by"] == "merchant"
    configure(stack, promotable_stores="all")
    assert admin(stack, "GET", path, path_parameters={"affiliate_id": "A"})["stores"] is None
    followed = admin(
        stack, "PATCH", path, path_parameters={"affiliate_id": "B"}, json={"follow_program": True}
    )
    assert followed["stores"] is None and followed["stores_set_by"] == "program"


def test_a_manual_settlement_needs_the_payee_account_the_affiliate_gave(stack: StackHandle) -> None:
    """Seed 003: the merchant transfers to the WeChat or Alipay account given with the request."""
    configure(stack)
    join(stack, "A")
    _settled(stack, "A", "SO-PA", 10_000)
    bad = call(
        stack,
        CENTER_API,
        "POST",
        "/affiliate/withdrawals",
        token_for("affiliate", subject="A"),
        json={
            "amount_fen": 300,
            "request_id": "p0",
            "payee_account": {"channel": "wechat", "account": "1x", "name": "王"},
        },
    )
    assert bad[0] == 400 and bad[1]["error"]["field"] == "payee_account.account"
    plain = mine(stack, "A", "POST", "/affiliate/withdrawals", json={"amount_fen": 300, "request_id": "p1"})
    path, ids = (
        "/admin/affiliates/withdrawals/{withdrawal_id}/approve",
        {"withdrawal_id": plain["withdrawal_id"]},
    )
    status, body = call(
        stack, ADMIN_API, "POST", path, token_for("admin"), path_parameters=ids, json={"settlement": "manual"}
    )
    assert status == 409 and body["error"]["field"] == "settlement"
    assert admin(stack, "POST", path, path_parameters=ids, json={"settlement": "auto"})["status"] == "paying"
