"""``make demo`` makes every sample under events/ work, and ``invoke`` reports what its event
causes downstream (the queue messages it sent, consumed by the running stack)."""

from __future__ import annotations

import json

import pytest

from infra.local.naming import events_dir_of
from infra.local.template import read_stack
from tests.e2e.conftest import RunningStack
from tests.support import ROOT

pytestmark = pytest.mark.e2e

ADD_CONTACT = "events/wecom_callback/add_external_contact.json"

# Samples that cannot answer 2xx when all samples run in a row, each with its exact answer and why.
EXCEPTIONS = {
    # approve, reject, settle and cancel are alternatives on the one withdrawal withdraw.json asks
    # for: approve_withdrawal.json (automatic) runs first, after which the others are conflicts.
    "affiliate_admin_api/cancel_withdrawal.json": 409,
    "affiliate_admin_api/reject_withdrawal.json": 409,
    "affiliate_admin_api/settle_withdrawal.json": 409,
    # Sign-in codes are single use and minted at sign-in time by WeCom / wx.login() (the sandboxes);
    # a refresh token works once and only as issued. tests/e2e/test_sign_in_over_http.py signs in.
    "sign_in_api/wecom_sign_in.json": 400,
    "sign_in_api/miniprogram_sign_in.json": 400,
    "sign_in_api/refresh.json": 401,
    # Signed by WeChat Pay's (the sandbox's) key at a fixed time, refused as a replay; the
    # signed-notification flow is tests/e2e/test_transfer_confirmation_over_http.py.
    "wechat_pay_notify/bill_finished.json": 401,
    # Signed by the store's (the sandbox's) push token at a fixed time, refused as a replay; the
    # pushed-order flow is tests/e2e/test_wechat_store_over_http.py.
    "store_callback/verify_url.json": 401,
    "store_callback/order_pay_push.json": 401,
}


def _invoke(stack: RunningStack, function: str, sample: str) -> tuple[int, object, str]:
    result = stack.command("invoke", "--follow-seconds", "30", function, sample)
    try:
        answer: object = json.loads(result.stdout)
    except ValueError:
        answer = result.stdout
    return result.returncode, answer, result.stderr


def test_invoke_reports_the_downstream_failure_of_a_contact_nobody_created(
    running_stack: RunningStack,
) -> None:
    code, answer, stderr = _invoke(running_stack, "WecomCallbackFunction", ADD_CONTACT)
    # The callback itself is accepted (WeCom gets "success")…
    assert isinstance(answer, dict) and answer["statusCode"] == 200, answer
    # …but the event processor cannot fetch the contact from WeCom: said, and exit 2.
    assert code == 2, stderr[-2000:]
    [line] = [line for line in stderr.splitlines() if line.startswith("downstream:")]
    assert "EventProcessorFunction FAILED" in line and "40096" in line and "receive 1 of 5" in line, line


@pytest.mark.timeout(900)  # one `invoke` process per sample: the run grows with the samples
def test_after_the_demo_every_sample_answers_2xx(running_stack: RunningStack) -> None:
    demo = running_stack.command("demo")
    assert demo.returncode == 0, demo.stderr
    assert "tokens" in demo.stdout and "wdf34823ae82cba583b11a3d8a6bf9fa" in demo.stdout, demo.stdout
    again = running_stack.command("demo")  # idempotent
    assert again.returncode == 0, again.stderr

    seen: set[str] = set()
    for function in read_stack().functions:
        for sample in sorted((ROOT / "events" / events_dir_of(function)).glob("*.json")):
            name = str(sample.relative_to(ROOT / "events"))
            seen.add(name)
            code, answer, stderr = _invoke(running_stack, function, str(sample))
            assert code == 0, f"{name}: exit {code}\n{answer}\n{stderr[-2000:]}"
            if isinstance(answer, dict) and "statusCode" in answer:
                expected = EXCEPTIONS.get(name)
                if expected is None:
                    assert 200 <= answer["statusCode"] < 300, f"{name}: {answer}"
                else:
                    assert answer["statusCode"] == expected, f"{name}: {answer}"
            elif isinstance(answer, dict) and "batchItemFailures" in answer:
                assert answer["batchItemFailures"] == [], f"{name}: {answer}"
            if name == ADD_CONTACT.removeprefix("events/"):
                assert "EventProcessorFunction consumed message" in stderr, stderr[-2000:]
    assert set(EXCEPTIONS) <= seen, f"exceptions for samples that do not exist: {set(EXCEPTIONS) - seen}"
