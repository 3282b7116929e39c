"""Payout ids, states, and the WeCom pay-to-employee signatures (SPEC §4.7)."""

import hashlib
from datetime import UTC, datetime

import pytest

from incentives.ledger.model import Account, OwnerKind
from incentives.payouts.model import Payee, Payout, PayoutStatus, ProviderName, payout_id_for
from incentives.payouts.wecom_pay import (
    WeComPayConfig,
    WeComPayToEmployee,
    from_xml,
    pay_sign,
    to_xml,
    workwx_sign,
)

AT = datetime(2026, 11, 24, tzinfo=UTC)
GUIDE = Account("ww-1", OwnerKind.GUIDE, "guide-1")


def _payout(**changes: object) -> Payout:
    values: dict[str, object] = dict(
        payout_id=payout_id_for("ww-1", "reward:1"),
        payee=Payee(GUIDE, "oGuide1"),
        amount_fen=10_099,
        provider=ProviderName.WECOM_PAY,
        source="reward:1",
        description="六月出差报销费用",
        status=PayoutStatus.QUEUED,
        created_at=AT,
        updated_at=AT,
    )
    values.update(changes)
    return Payout(**values)  # type: ignore[arg-type]


def test_a_payout_id_is_deterministic_alphanumeric_and_32_long() -> None:
    first, again = payout_id_for("ww-1", "reward:1"), payout_id_for("ww-1", "reward:1")
    assert first == again and len(first) == 32 and first.isalnum()
    assert payout_id_for("ww-2", "reward:1") != first
    assert payout_id_for("ww-1", "reward:2") != first


def test_only_a_failed_payout_can_be_requeued_and_it_gets_a_new_generation() -> None:
    failed = _payout().sending(AT).failed(AT, "NOTENOUGH", "余额不足")
    again = failed.requeued(AT, "admin:li")
    assert again.status is PayoutStatus.QUEUED and again.generation == 2 and again.failure_code is None
    with pytest.raises(ValueError):
        again.requeued(AT, "admin:li")


def test_a_payout_that_failed_for_good_can_be_cancelled_and_never_sent_again() -> None:
    failed = _payout().sending(AT).failed(AT, "NOTENOUGH", "余额不足")
    cancelled = failed.cancelled(AT, "admin:li")
    assert cancelled.status is PayoutStatus.CANCELLED
    with pytest.raises(ValueError):
        cancelled.requeued(AT, "admin:li")
    with pytest.raises(ValueError):
        cancelled.sending(AT)


def test_a_payout_whose_fate_is_unknown_cannot_be_cancelled() -> None:
    unknown = _payout().sending(AT).failed(AT, "RETRIES_EXHAUSTED", "gave up: no answer")
    with pytest.raises(ValueError, match="may have paid"):
        unknown.cancelled(AT, "admin:li")
    with pytest.raises(ValueError):
        _payout().cancelled(AT, "admin:li")  # queued: not failed


def test_a_paid_payout_cannot_be_sent_again() -> None:
    paid = _payout().sending(AT).paid(AT, "10000", None)
    with pytest.raises(ValueError):
        paid.sending(AT)


def test_each_transition_is_written_into_the_history() -> None:
    payout = _payout().sending(AT).paid(AT, "1000018301201505190181489473", None)
    assert [line.split(" ", 1)[1] for line in payout.history] == [
        "queued→sending attempt 1",
        "sending→paid 1000018301201505190181489473",
    ]
    assert payout.version == 3


def test_pay_sign_is_md5_of_the_sorted_non_empty_parameters_and_the_key() -> None:
    params = {
        "mch_id": "1900000109",
        "appid": "wx8888888888888888",
        "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "device_info": "",
        "amount": 10099,
    }
    text = (
        "amount=10099&appid=wx8888888888888888&mch_id=1900000109&nonce_str=5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
    )
    expected = hashlib.md5(f"{text}&key=192006250b4c09247ec02edce69f6a2d".encode()).hexdigest().upper()
    assert pay_sign(params, "192006250b4c09247ec02edce69f6a2d") == expected


def test_workwx_sign_covers_its_eight_fields_and_the_app_secret() -> None:
    params = {
        "amount": 10099,
        "appid": "wx8888888888888888",
        "desc": "六月出差报销费用",
        "mch_id": "1900000109",
        "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "openid": "oxTWIuGaIt6gTKsQRLau2M0yL16E",
        "partner_trade_no": "10000098201411111234567890",
        "ww_msg_type": "NORMAL_MSG",
        "spbill_create_ip": "192.168.0.1",
        "check_name": "NO_CHECK",
    }
    text = (
        "amount=10099&appid=wx8888888888888888&desc=六月出差报销费用&mch_id=1900000109"
        "&nonce_str=5K8264ILTKCH16CQ2502SI8ZNMTM67VS&openid=oxTWIuGaIt6gTKsQRLau2M0yL16E"
        "&partner_trade_no=10000098201411111234567890&ww_msg_type=NORMAL_MSG&secret=app-secret"
    )
    assert workwx_sign(params, "app-secret") == hashlib.md5(text.encode()).hexdigest().upper()


def test_a_retry_sends_exactly_the_same_signed_request() -> None:
    provider = WeComPayToEmployee(
        WeComPayConfig("ww-1", "1900000109", "k" * 32, "secret", "1000002", base_url="http://127.0.0.1:9")
    )
    payout = _payout()
    first = provider.transfer_params(payout)
    again = provider.transfer_params(payout.sending(AT).sending(AT))
    assert first == again
    assert first["partner_trade_no"] == payout.payout_id and first["amount"] == 10_099


def test_xml_round_trips_and_escapes() -> None:
    params = {"desc": "A & B <奖励>", "amount": 100}
    assert from_xml(to_xml(params)) == {"desc": "A & B <奖励>", "amount": "100"}


def test_the_xml_parser_refuses_entity_expansion() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><xml><c>&b;</c></xml>'
    with pytest.raises(Exception, match=r"(?i)entit"):
        from_xml(bomb)
