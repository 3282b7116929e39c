"""The whole local stack (`python -m infra.local run`) in a subprocess, driven over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from tests.support import LOCAL_SECRET, ROOT, free_port

READY_TIMEOUT_SECONDS = 90
LEVELS_TENANT = "ww-e2e-levels"
"""The tenant of the affiliate-level scenarios (rules of their own, apart from the default tenant's)."""
DOWNGRADES_TENANT = "ww-e2e-downgrades"
"""The downgrade scenarios' tenant (their 2-level rules apart from seed 001's eight)."""


@dataclass
class RunningStack:
    env: dict[str, str] = field(repr=False)
    api_url: str
    endpoint_url: str
    stack_name: str
    payments_url: str = ""
    wecom_url: str = ""
    miniprogram_url: str = ""
    store_url: str = ""
    output: list[str] = field(default_factory=list, repr=False)

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name="ap-southeast-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def queue_url(self, logical: str) -> str:
        return str(self.client("sqs").get_queue_url(QueueName=f"{self.stack_name}-{logical}")["QueueUrl"])

    def order(self, order_id: str, corp_id: str = "ww-local-corp") -> dict[str, Any] | None:
        from incentives.storage.dynamo import from_item

        item = (
            self.client("dynamodb")
            .get_item(
                TableName=f"{self.stack_name}-IncentivesTable",
                Key={"pk": {"S": f"T#{corp_id}#ORDER#{order_id}"}, "sk": {"S": "STATE"}},
            )
            .get("Item")
        )
        return from_item(item) if item else None

    def wait_for(self, predicate: Any, timeout: float = 20.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.2)
        tail = "\n".join(self.output[-30:])
        raise AssertionError(f"timed out waiting for {what}; stack output:\n{tail}")

    def sync_org(self, headers: dict[str, str]) -> dict[str, Any]:
        """A manual organization sync: POST answers 202, the processor runs it; its final status."""
        import requests

        queued = requests.post(f"{self.api_url}/admin/org/sync", headers=headers, timeout=30)
        assert queued.status_code == 202, queued.text
        requested = queued.json()["requested_at"]

        def done() -> dict[str, Any] | None:
            status: dict[str, Any] = requests.get(
                f"{self.api_url}/admin/org/sync", headers=headers, timeout=30
            ).json()
            finished = status["state"] in ("finished", "failed") and status["finished_at"] >= requested
            return status if finished else None

        found: dict[str, Any] = self.wait_for(done, timeout=60, what="the organization sync")
        return found

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "infra.local", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@pytest.fixture(scope="session")
def running_stack() -> Iterator[RunningStack]:
    api_port, aws_port, payments_port, wecom_port = free_port(), free_port(), free_port(), free_port()
    miniprogram_port, store_port = free_port(), free_port()
    env = {
        **os.environ,
        "LOCAL_API_PORT": str(api_port),
        "LOCAL_AWS_PORT": str(aws_port),
        "LOCAL_PAYMENTS_PORT": str(payments_port),
        "LOCAL_WECOM_PORT": str(wecom_port),
        "LOCAL_MINIPROGRAM_PORT": str(miniprogram_port),
        "LOCAL_STORE_PORT": str(store_port),
        "LOCAL_PARAMETERS": "WeChatPayTimeoutSeconds=1",
        "LOCAL_SANDBOX_TIMEOUT_DELAY": "2",
        "LOCAL_EXTRA_TENANTS": json.dumps(
            {
                "wx5823bf96d3bd56c7": {
                    "wecom_callback_token": "QDG6eK",
                    "wecom_encoding_aes_key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
                },
                # The level scenarios' own tenants: their rules never meet the README's, which a
                # reader runs on the default tenant, nor each other's.
                **{
                    tenant: {
                        "order_webhook_secret": LOCAL_SECRET,
                        "api_jwt_secret": "local-api-jwt-secret-for-development-only",
                    }
                    for tenant in (LEVELS_TENANT, DOWNGRADES_TENANT)
                },
            }
        ),
        "LOCAL_QUEUE_VISIBILITY_TIMEOUT": "1",
        "LOCAL_SCHEDULER": "off",
        "LOCAL_STACK_NAME": "e2e",
        "PYTHONUNBUFFERED": "1",
    }
    for key in ("AWS_ENDPOINT_URL", "TABLE_NAME", "EVENTS_QUEUE_URL", "TENANT_SECRETS_PREFIX"):
        env.pop(key, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stack = RunningStack(
        env,
        f"http://127.0.0.1:{api_port}",
        f"http://127.0.0.1:{aws_port}",
        "e2e",
        payments_url=f"http://127.0.0.1:{payments_port}",
        wecom_url=f"http://127.0.0.1:{wecom_port}",
        miniprogram_url=f"http://127.0.0.1:{miniprogram_port}",
        store_url=f"http://127.0.0.1:{store_port}",
    )
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            stack.output.append(line.rstrip())
            if line.startswith("ready:"):
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(READY_TIMEOUT_SECONDS):
        process.kill()
        raise RuntimeError("local stack did not start:\n" + "\n".join(stack.output))
    yield stack
    process.send_signal(signal.SIGINT)
    code = process.wait(timeout=30)
    tail = "\n".join(stack.output[-40:])
    assert code == 0, f"Ctrl-C must stop the stack cleanly (exit {code}):\n{tail}"
