"""The running local stack, over HTTP: webhook → queue → processor → DynamoDB, window job, DLQ."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime

import pytest
import requests

from tests.e2e.conftest import RunningStack
from tests.support import ROOT, order_completed, order_paid, signed_headers, token_for

pytestmark = __import__("pytest").mark.e2e


def _post(stack: RunningStack, body: object, **signing: object) -> requests.Response:
    raw = json.dumps(body).encode()
    return requests.post(
        f"{stack.api_url}/webhooks/orders", data=raw, headers=signed_headers(raw, **signing), timeout=10
    )


def test_a_signed_order_paid_travels_to_dynamodb(running_stack: RunningStack) -> None:
    response = _post(running_stack, order_paid("E2E-1", paid_fen=8_800))
    assert response.status_code == 202, response.text
    order = running_stack.wait_for(lambda: running_stack.order("E2E-1"), what="order E2E-1 stored")
    assert order["status"] == "paid" and order["paid_fen"] == 8_800


def test_rejections_over_http(running_stack: RunningStack) -> None:
    body = order_paid("E2E-bad")
    assert _post(running_stack, body, secret="wrong").status_code == 401
    assert _post(running_stack, body, timestamp=int(time.time()) - 600).status_code == 401
    broken = order_paid("E2E-bad")
    del broken["data"]["lines"][0]["paid_fen"]
    response = _post(running_stack, broken)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "data.lines.0.paid_fen"
    first = order_paid("E2E-409", event_id="e2e-shared-id")
    assert _post(running_stack, first).status_code == 202
    assert _post(running_stack, first).status_code == 202
    assert _post(running_stack, order_paid("E2E-other", event_id="e2e-shared-id")).status_code == 409
    assert running_stack.order("E2E-bad") is None


def test_firing_the_window_job_closes_a_completed_order(running_stack: RunningStack) -> None:
    for body in (order_paid("E2E-W"), order_completed("E2E-W", "2026-11-01T10:00:00+08:00")):
        assert _post(running_stack, body).status_code == 202
    running_stack.wait_for(
        lambda: (running_stack.order("E2E-W") or {}).get("status") == "completed", what="order completed"
    )
    early = running_stack.command("fire", "AfterSalesWindowFunction", "--at", "2026-11-08T01:00:00Z")
    assert early.returncode == 0, early.stderr
    assert json.loads(early.stdout)["emitted"] == 0
    fired = running_stack.command("fire", "AfterSalesWindowFunction", "--at", datetime.now(UTC).isoformat())
    assert fired.returncode == 0, fired.stderr
    assert json.loads(fired.stdout)["emitted"] >= 1
    running_stack.wait_for(
        lambda: (running_stack.order("E2E-W") or {}).get("status") == "closed", what="order closed"
    )


def test_a_poison_message_reaches_the_dlq_after_5_receives(running_stack: RunningStack) -> None:
    sqs = running_stack.client("sqs")
    sqs.send_message(QueueUrl=running_stack.queue_url("EventsQueue"), MessageBody='{"poison": true}')
    dlq = running_stack.queue_url("EventsDeadLetterQueue")

    def dead_letter() -> list[dict[str, object]]:
        messages: list[dict[str, object]] = sqs.receive_message(
            QueueUrl=dlq, AttributeNames=["All"], MaxNumberOfMessages=10
        ).get("Messages", [])
        return [m for m in messages if m["Body"] == '{"poison": true}']

    [message] = running_stack.wait_for(dead_letter, timeout=60, what="poison message in the DLQ")
    # Five failed receives on the source queue; the DLQ's own receive is the sixth.
    assert int(message["Attributes"]["ApproximateReceiveCount"]) == 6  # type: ignore[index]
    # A batch whose every record fails is failed whole (Powertools raises), and retried.
    failures = [line for line in running_stack.output if "failed on a batch of 1" in line]
    assert len(failures) >= 5


@pytest.mark.skipif(
    not shutil.which("aws") or not shutil.which("openssl"), reason="needs the AWS CLI and openssl"
)
def test_the_readme_secrets_example_adds_a_brand_to_the_running_stack(running_stack: RunningStack) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- secrets-example:start -->\s*```bash\n(.*?)```", readme, re.S)
    assert block, "README lacks the secrets example"
    env = dict(
        running_stack.env,
        AWS_ENDPOINT_URL=running_stack.endpoint_url,
        AWS_DEFAULT_REGION="ap-southeast-1",
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        WECOM_APP_SECRET="readme-brand-app-secret",
    )
    result = subprocess.run(
        ["bash", "-c", "set -eu\n" + block.group(1)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    corp, secrets = "ww0123456789abcdef", running_stack.client("secretsmanager")

    def secret(purpose: str) -> dict[str, str]:
        value = json.loads(secrets.get_secret_value(SecretId=f"incentives/{corp}/{purpose}")["SecretString"])
        return dict(value)

    callback = secret("wecom-callback")
    assert len(callback["wecom_encoding_aes_key"]) == 43 and secret("wecom-app") == {
        "wecom_secret": "readme-brand-app-secret"
    }
    # The new brand is served at once, with no restart: its webhook secret signs, its API key verifies.
    body = order_paid("E2E-README-BRAND")
    response = _post(running_stack, body, secret=secret("webhook")["order_webhook_secret"], corp_id=corp)
    assert response.status_code == 202, response.text
    token = token_for("admin", corp_id=corp, secret=secret("api")["api_jwt_secret"])
    answer = requests.get(
        f"{running_stack.api_url}/admin/payouts", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert answer.status_code == 200, answer.text
