"""Payouts in the running stack: sandbox faults over HTTP, the worker, the DLQ, the admin API."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
import requests

from tests.e2e.conftest import RunningStack
from tests.support import ROOT

pytestmark = pytest.mark.e2e


def _token(stack: RunningStack) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "infra.local", "token", "--role", "admin"],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.strip()


def _queue_payout(stack: RunningStack, source: str, amount_fen: int) -> str:
    """A settled reward and its payout, created through the layer against the running stack."""
    from incentives.ledger import postings
    from incentives.ledger.model import Account, OwnerKind
    from incentives.payouts.creation import PayoutRequest, create_payout
    from incentives.payouts.model import Payee, ProviderName
    from incentives.storage.dynamo_table import DynamoTable
    from incentives.storage.ledger import LedgerRepository
    from incentives.storage.payout_queue import SqsPayoutQueue
    from incentives.storage.payouts import PayoutRepository

    now = datetime.now(UTC)
    table = DynamoTable(stack.client("dynamodb"), f"{stack.stack_name}-IncentivesTable")
    ledger, guide = LedgerRepository(table), Account("ww-local-corp", OwnerKind.GUIDE, f"guide-{source}")
    ledger.credit(postings.credit(guide, f"credit:{source}", amount_fen, now), hold_until=now)
    hold = ledger.hold(guide, f"credit:{source}")
    assert hold is not None
    ledger.settle(hold, postings.settlement(hold, now), now)
    queue = SqsPayoutQueue(stack.client("sqs"), stack.queue_url("PayoutQueue"))
    payout = create_payout(
        PayoutRepository(table),
        queue,
        PayoutRequest(
            source, Payee(guide, f"o-{source}", name="王芳"), amount_fen, ProviderName.WECOM_PAY, "导购激励"
        ),
        now,
    )
    return payout.payout_id


def _payout(stack: RunningStack, token: str, payout_id: str) -> dict[str, object]:
    response = requests.get(
        f"{stack.api_url}/admin/payouts/{payout_id}", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


def _faults(stack: RunningStack, operation: str, faults: list[str]) -> None:
    response = requests.post(
        f"{stack.payments_url}/sandbox/faults", json={"operation": operation, "faults": faults}, timeout=10
    )
    assert response.status_code == 200, response.text


def _transfers(stack: RunningStack, payout_id: str) -> list[dict[str, object]]:
    made = requests.get(f"{stack.payments_url}/sandbox/transfers", timeout=10).json()["transfers"]
    return [t for t in made if t["number"] == payout_id]


def test_a_timeout_then_systemerror_pays_once_under_one_number(running_stack: RunningStack) -> None:
    token = _token(running_stack)
    _faults(running_stack, "pay", ["timeout_before", "SYSTEMERROR"])
    payout_id = _queue_payout(running_stack, "e2e-timeout", 8_800)
    running_stack.wait_for(
        lambda: _payout(running_stack, token, payout_id)["status"] == "paid", timeout=60, what="payout paid"
    )
    [transfer] = _transfers(running_stack, payout_id)
    assert transfer["amount_fen"] == 8_800
    seen = requests.get(f"{running_stack.payments_url}/sandbox/transfers", timeout=10).json()["numbers_seen"]
    assert {number for operation, number in seen if operation == "pay" and number == payout_id} == {payout_id}
    assert sum(1 for operation, number in seen if operation == "pay" and number == payout_id) == 3


def test_notenough_shows_failed_and_is_requeued_through_the_admin_api(running_stack: RunningStack) -> None:
    token = _token(running_stack)
    _faults(running_stack, "pay", ["NOTENOUGH"])
    payout_id = _queue_payout(running_stack, "e2e-notenough", 12_000)
    running_stack.wait_for(
        lambda: _payout(running_stack, token, payout_id)["status"] == "failed",
        timeout=60,
        what="payout failed",
    )
    failed = requests.get(
        f"{running_stack.api_url}/admin/payouts",
        params={"status": "failed"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()
    [item] = [i for i in failed["items"] if i["payout_id"] == payout_id]
    assert (item["failure_code"], item["failure_reason"]) == ("NOTENOUGH", "余额不足")
    requeued = requests.post(
        f"{running_stack.api_url}/admin/payouts/{payout_id}/requeue",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert requeued.status_code == 200 and requeued.json()["status"] == "queued"
    running_stack.wait_for(
        lambda: _payout(running_stack, token, payout_id)["status"] == "paid",
        timeout=60,
        what="re-queued payout paid",
    )
    assert len(_transfers(running_stack, payout_id)) == 1


def test_a_payout_that_keeps_failing_reaches_the_dlq_and_shows_failed(running_stack: RunningStack) -> None:
    token = _token(running_stack)
    _faults(running_stack, "pay", ["SYSTEMERROR"] * 5)
    payout_id = _queue_payout(running_stack, "e2e-dlq", 5_000)
    sqs, dlq = running_stack.client("sqs"), running_stack.queue_url("PayoutDeadLetterQueue")

    def dead_lettered() -> list[dict[str, object]]:
        messages = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        )
        return [m for m in messages if payout_id in m["Body"]]

    running_stack.wait_for(dead_lettered, timeout=90, what="payout message in the DLQ")
    payout = _payout(running_stack, token, payout_id)
    assert payout["status"] == "failed" and payout["failure_code"] == "RETRIES_EXHAUSTED"
    assert "SYSTEMERROR" in str(payout["failure_reason"])
    assert _transfers(running_stack, payout_id) == []
    requests.post(
        f"{running_stack.api_url}/admin/payouts/{payout_id}/requeue",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).raise_for_status()
    running_stack.wait_for(
        lambda: _payout(running_stack, token, payout_id)["status"] == "paid",
        timeout=60,
        what="payout paid after the operator re-queued it",
    )
    assert len(_transfers(running_stack, payout_id)) == 1


def test_swagger_ui_is_served_locally(running_stack: RunningStack) -> None:
    page = requests.get(f"{running_stack.api_url}/admin/swagger", timeout=10)
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    document = requests.get(
        f"{running_stack.api_url}/prod/admin/swagger", params={"format": "json"}, timeout=10
    )
    assert "/admin/payouts" in document.json()["paths"]
