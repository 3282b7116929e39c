"""The WeChat Pay sandbox behaves as the real APIs do where our clients depend on it."""

import json

from incentives.ledger.model import Account, OwnerKind
from incentives.payouts.model import Payee, Payout, PayoutStatus, ProviderName, payout_id_for
from incentives.payouts.wecom_pay import WeComPayConfig, WeComPayToEmployee, from_xml, to_xml
from infra.local.sandboxes.payments import Merchant, PaymentsSandbox
from tests.unit.test_payout_rules import AT

MERCHANT = Merchant("1900000109", "k" * 32, "pay-secret", balance_fen=50_000)
AUTH = 'WECHATPAY2-SHA256-RSA2048 mchid="1900000109",signature="…"'


def _books() -> PaymentsSandbox:
    return PaymentsSandbox({MERCHANT.mch_id: Merchant(**vars(MERCHANT))}, timeout_delay_seconds=5)


def _signed(amount: int = 10_000) -> bytes:
    client = WeComPayToEmployee(
        WeComPayConfig(
            "ww-1",
            MERCHANT.mch_id,
            MERCHANT.api_key,
            MERCHANT.payment_secret,
            "1000002",
            base_url="http://sandbox",
        )
    )
    payout = Payout(
        payout_id_for("ww-1", "r"),
        Payee(Account("ww-1", OwnerKind.GUIDE, "g"), "oG"),
        amount,
        ProviderName.WECOM_PAY,
        "r",
        "奖励",
        PayoutStatus.SENDING,
        AT,
        AT,
    )
    return to_xml(client.transfer_params(payout))


def test_pay_to_employee_is_idempotent_on_its_number() -> None:
    books = _books()
    first = from_xml(books.pay_to_employee(_signed()).body)
    again = from_xml(books.pay_to_employee(_signed()).body)
    assert first["result_code"] == again["result_code"] == "SUCCESS"
    assert first["payment_no"] == again["payment_no"]
    assert len(books.transfers_made()) == 1 and books.merchants[MERCHANT.mch_id].balance_fen == 40_000


def test_a_bad_signature_is_refused_and_moves_nothing() -> None:
    books = _books()
    tampered = _signed().replace(b"<amount>10000</amount>", b"<amount>20000</amount>")
    assert from_xml(books.pay_to_employee(tampered).body)["return_code"] == "FAIL"
    assert books.transfers_made() == []


def test_an_amount_above_the_balance_is_notenough() -> None:
    answer = from_xml(_books().pay_to_employee(_signed(60_000)).body)
    assert (answer["result_code"], answer["err_code"]) == ("FAIL", "NOTENOUGH")


def test_a_timeout_fault_moves_money_but_answers_late() -> None:
    books = _books()
    books.add_faults("pay", ["timeout"])
    answer = books.pay_to_employee(_signed())
    assert answer.delay_seconds == 5 and len(books.transfers_made()) == 1


def test_transfer_bills_are_idempotent_and_queryable() -> None:
    books = _books()
    body = json.dumps(
        {"out_bill_no": "po1", "transfer_amount": 300, "openid": "oA", "transfer_remark": "佣金"}
    ).encode()
    assert books.transfer_bill(body, None).status == 401
    first = json.loads(books.transfer_bill(body, AUTH).body)
    assert json.loads(books.transfer_bill(body, AUTH).body)["transfer_bill_no"] == first["transfer_bill_no"]
    assert json.loads(books.query_transfer_bill("po1").body)["state"] == "WAIT_USER_CONFIRM"
    assert books.payee_acts("po1", "confirm", {"package": first["package_info"]})[0] == 200
    assert json.loads(books.query_transfer_bill("po1").body)["state"] == "SUCCESS"
    assert books.query_transfer_bill("po2").status == 404
    changed = json.dumps({"out_bill_no": "po1", "transfer_amount": 301, "openid": "oA"}).encode()
    assert books.transfer_bill(changed, AUTH).status == 400


def test_transfer_faults_answer_as_the_v3_api_does() -> None:
    books = _books()
    books.add_faults("transfer", ["NOTENOUGH", "SYSTEMERROR", "FREQ_LIMIT"])
    body = json.dumps({"out_bill_no": "po9", "transfer_amount": 300, "openid": "oA"}).encode()
    assert [books.transfer_bill(body, AUTH).status for _ in range(3)] == [403, 500, 429]
    assert books.transfers_made() == []


# --- transfer bills that wait for the payee -----------------------------------------------------

BODY = json.dumps(
    {"out_bill_no": "po7", "transfer_amount": 700, "openid": "oA", "notify_url": "http://n/x"}
).encode()


def _waiting(books: PaymentsSandbox, body: bytes = BODY) -> dict[str, str]:
    answer = json.loads(books.transfer_bill(body, AUTH).body)
    assert answer["state"] == "WAIT_USER_CONFIRM" and answer["package_info"]
    return answer


def test_a_bill_waits_for_the_payee_and_moves_money_only_when_confirmed() -> None:
    books = _books()
    bill = _waiting(books)
    assert books.transfers_made() == [] and books.merchants[MERCHANT.mch_id].balance_fen == 49_300
    assert "package_info" not in json.loads(books.query_transfer_bill("po7").body)  # a query does not tell it
    assert books.payee_acts("po7", "confirm", {"package": "forged"})[0] == 400
    assert books.payee_acts("po7", "confirm", {"package": bill["package_info"]})[0] == 200
    assert [t["number"] for t in books.transfers_made()] == ["po7"]
    assert books.payee_acts("po7", "confirm", {"package": bill["package_info"]})[0] == 409  # once


def test_a_declined_or_cancelled_bill_gives_the_money_back_to_the_merchant() -> None:
    books = _books()
    _waiting(books)
    assert books.payee_acts("po7", "decline")[0] == 200
    assert json.loads(books.query_transfer_bill("po7").body)["state"] == "CANCELLED"
    other = BODY.replace(b"po7", b"po8")
    _waiting(books, other)
    cancelled = books.cancel_transfer_bill("po8", AUTH)
    assert (cancelled.status, json.loads(cancelled.body)["state"]) == (200, "CANCELING")
    assert json.loads(books.query_transfer_bill("po8").body)["state"] == "CANCELLED"
    assert books.merchants[MERCHANT.mch_id].balance_fen == 50_000 and books.transfers_made() == []
    assert books.cancel_transfer_bill("po9", AUTH).status == 404


def test_a_confirmed_bill_cannot_be_cancelled() -> None:
    books = _books()
    bill = _waiting(books)
    books.payee_acts("po7", "confirm", {"package": bill["package_info"]})
    refused = books.cancel_transfer_bill("po7", AUTH)
    assert (refused.status, json.loads(refused.body)["code"]) == (400, "INVALID_REQUEST")


def test_an_unconfirmed_bill_closes_by_itself_after_24_hours() -> None:
    now = [1_800_000_000.0]
    books = _books()
    books.clock = lambda: now[0]
    _waiting(books)
    now[0] += 24 * 3600 - 1
    assert json.loads(books.query_transfer_bill("po7").body)["state"] == "WAIT_USER_CONFIRM"
    now[0] += 2
    assert json.loads(books.query_transfer_bill("po7").body)["state"] == "CANCELLED"
    assert books.merchants[MERCHANT.mch_id].balance_fen == 50_000


def test_a_notify_url_with_a_query_string_is_refused_like_wechat_pay() -> None:
    books = PaymentsSandbox({MERCHANT.mch_id: Merchant(**{**vars(MERCHANT), "v3_public_key_pem": None})})
    assert books._v3_request_problem(
        {
            "appid": "wx1",
            "out_bill_no": "po1",
            "transfer_scene_id": "1005",
            "openid": "oA",
            "transfer_amount": 1,
            "transfer_remark": "r",
            "notify_url": "https://example.com/notify?corp_id=ww1",
        }
    )
