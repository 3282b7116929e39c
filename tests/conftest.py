"""Fixtures: an embedded AWS endpoint (moto, server mode) and per-test stacks made from template.yaml."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import pytest

from infra.local import aws
from infra.local.config import LocalConfig
from infra.local.lambdas import Functions
from infra.local.sandboxes.miniprogram import MiniProgramSandbox, MiniProgramSandboxServer
from infra.local.sandboxes.payments import Merchant, PaymentsSandbox, PaymentsSandboxServer
from infra.local.sandboxes.wechat_store import WeChatStoreSandbox, WeChatStoreSandboxServer
from infra.local.sandboxes.wecom import WeComSandbox, WeComSandboxServer
from infra.local.template import Resolver, read_stack

TENCENT_SAMPLE_CORP = "wx5823bf96d3bd56c7"
"""The corp of Tencent's published WXBizMsgCrypt vectors, a tenant of every test stack."""


@pytest.fixture(scope="session")
def moto_port() -> Iterator[int]:
    server = aws.MotoServer("127.0.0.1", 0)
    server.start()
    yield server.port
    server.stop()


@dataclass
class StackHandle:
    """One freshly provisioned copy of the template's resources, its functions and the sandboxes."""

    config: LocalConfig
    resolver: Resolver
    functions: Functions
    payments: PaymentsSandbox
    wecom: WeComSandbox
    miniprogram: MiniProgramSandbox
    store: WeChatStoreSandbox

    def client(self, service: str) -> Any:
        return aws.client(service, self.config)

    def ref(self, logical: str) -> str:
        return str(self.resolver.refs[logical])

    def invoke(self, function: str, event: Any) -> Any:
        return self.functions.invoke(function, event)

    def fire(self, function: str, at: datetime) -> Any:
        """Fire the function's schedule at ``at``, as ``make fire`` does: a run it starts is driven
        through its work queue to the end, and the answer is the run's summary (its counts)."""
        from infra.local.fanout import drive, started_run
        from infra.local.scheduler import scheduled_event

        stack = read_stack()
        schedule = next(s for s in stack.schedules if s.function == function)
        started = self.invoke(function, scheduled_event(schedule, at, self.config.region, "test"))
        if not started_run(started):
            return started
        mapping = next(m for m in stack.queue_mappings if m.function == function)
        report = drive(
            self.functions,
            self.client("sqs"),
            mapping,
            self.ref(mapping.queue),
            str(self.resolver.attributes[(mapping.queue, "Arn")]),
            self.config.region,
            started,
        )
        return report.summary()

    def api(self, function: str, method: str, resource: str, token: str, **kwargs: Any) -> tuple[int, Any]:
        """Call an API function as the gateway would: (status, JSON body or text). ``json=`` is the body."""
        from tests.support import api_event

        body = kwargs.pop("json", None)
        event = api_event(
            method, resource, token=token, body=json.dumps(body) if body is not None else None, **kwargs
        )
        response = self.invoke(function, event)
        text = response["body"]
        return response["statusCode"], json.loads(text) if text[:1] in ("{", "[") else text

    def status(self, function: str, method: str, resource: str, token: str, **kwargs: Any) -> int:
        """Only the status code of :meth:`api` (for checks of who may do what)."""
        return int(self.api(function, method, resource, token, **kwargs)[0])

    def table_items(self) -> list[dict[str, Any]]:
        from incentives.storage.dynamo import from_item

        pages = self.client("dynamodb").get_paginator("scan").paginate(TableName=self.ref("IncentivesTable"))
        return [from_item(item) for page in pages for item in page.get("Items", [])]

    def order(self, order_id: str, corp_id: str = "ww-local-corp") -> dict[str, Any] | None:
        for item in self.table_items():
            if item["pk"] == f"T#{corp_id}#ORDER#{order_id}" and item["sk"] == "STATE":
                item["doc"] = json.loads(item["doc"])
                return item
        return None

    def drain(self, logical: str = "EventsQueue", max_messages: int = 100) -> list[dict[str, Any]]:
        """Receive (and delete) what waits on a queue."""
        sqs, url, taken = self.client("sqs"), self.ref(logical), []
        while len(taken) < max_messages:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
                "Messages", []
            )
            if not batch:
                break
            for message in batch:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            taken.extend(batch)
        return taken

    def feed(self, function: str, queue: str, receive_count: int | None = None) -> list[Any]:
        """Feed what waits on ``queue`` to ``function`` once, as its mapping would; failures stay queued."""
        from infra.local.poller import failed_message_ids, sqs_event
        from infra.local.template import QueueMapping

        sqs, url = self.client("sqs"), self.ref(queue)
        arn = str(self.resolver.attributes[(queue, "Arn")])
        mapping = QueueMapping(function, queue, 10, True, 0)
        answers = []
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=0
        ).get("Messages", [])
        if not batch:
            return answers
        if receive_count is not None:
            for message in batch:
                message["Attributes"]["ApproximateReceiveCount"] = str(receive_count)
        try:
            answer = self.invoke(function, sqs_event(batch, arn, self.config.region))
        except Exception as error:  # a batch whose every record failed
            answers.append(error)
            return answers
        answers.append(answer)
        failed = failed_message_ids(answer, mapping, batch)
        for message in batch:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return answers

    def sync_org(self, token: str | None = None) -> dict[str, Any]:
        """An admin's manual organization sync: queued (202), run by the processor; its final status."""
        from tests.support import token_for

        token = token or token_for("admin")
        status, queued = self.api("AdminApiFunction", "POST", "/admin/org/sync", token)
        assert status == 202 and queued["state"] == "queued", queued
        self.process_queue()
        status, done = self.api("AdminApiFunction", "GET", "/admin/org/sync", token)
        assert status == 200, done
        return dict(done)

    def process_queue(self) -> list[Any]:
        """Feed what waits on the events queue to the processor, as the SQS mapping would."""
        from infra.local.poller import sqs_event

        answers = []
        arn = str(self.resolver.attributes[("EventsQueue", "Arn")])
        while messages := self.drain(max_messages=10):
            answers.append(
                self.invoke("EventProcessorFunction", sqs_event(messages, arn, self.config.region))
            )
        return answers


@pytest.fixture
def stack(moto_port: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[StackHandle]:
    """A new stack (tables, queues, secret) on the shared endpoint and a payments sandbox; env set to them."""
    base = LocalConfig.from_env()
    merchant = Merchant(
        base.wecom_pay_mch_id,
        base.wecom_pay_api_key,
        base.wecom_pay_secret,
        v3_public_key_pem=base.merchant_public_key_pem,
        api_v3_key=base.wechat_pay_api_v3_key,
    )
    books = PaymentsSandbox(
        {merchant.mch_id: merchant}, timeout_delay_seconds=1.5, platform_key_id=base.wechat_pay_public_key_id
    )
    # Notifications wait in the books' outbox: a test delivers them to the handler itself.
    server = PaymentsSandboxServer(books, "127.0.0.1", 0, deliver_notifications=False)
    server.start()
    from incentives.wecom.crypto import CallbackCrypto

    wecom = WeComSandbox(
        base.corp_id,
        base.wecom_secret,
        CallbackCrypto(base.callback_token, base.encoding_aes_key, base.corp_id),
        "http://127.0.0.1:9/",
    )
    wecom_server = WeComSandboxServer(wecom, "127.0.0.1", 0)
    wecom_server.start()
    miniprogram = MiniProgramSandbox(base.miniprogram_appid, base.miniprogram_secret)
    miniprogram_server = MiniProgramSandboxServer(miniprogram, "127.0.0.1", 0)
    miniprogram_server.start()
    store = WeChatStoreSandbox(
        base.store_appid,
        base.store_secret,
        CallbackCrypto(base.store_push_token, base.store_encoding_aes_key, base.store_appid),
        "http://127.0.0.1:9/",  # pushes are delivered to the handler by the tests themselves
    )
    store_server = WeChatStoreSandboxServer(store, "127.0.0.1", 0)
    store_server.start()
    config = dataclasses.replace(
        base,
        store_port=int(store_server.base_url.rsplit(":", 1)[1]),
        wecom_port=int(wecom_server.base_url.rsplit(":", 1)[1]),
        miniprogram_port=int(miniprogram_server.base_url.rsplit(":", 1)[1]),
        aws_port=moto_port,
        stack_name=f"t{uuid.uuid4().hex[:10]}",
        queue_visibility_timeout=None,
        payments_port=int(server.base_url.rsplit(":", 1)[1]),
        parameter_overrides={"WeChatPayTimeoutSeconds": "1"},
        extra_tenants={
            TENCENT_SAMPLE_CORP: {
                "wecom_callback_token": "QDG6eK",
                "wecom_encoding_aes_key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
            }
        },
    )
    template = read_stack()
    resolver = aws.provision(template, config)
    for key, value in aws.function_environment(template, resolver, config).items():
        monkeypatch.setenv(key, value)
    from incentives.runtime import wiring

    wiring.reset()
    boto3.setup_default_session()
    yield StackHandle(
        config,
        resolver,
        Functions(template, config.region, config.function_concurrency),
        books,
        wecom,
        miniprogram,
        store,
    )
    wiring.reset()
    server.stop()
    wecom_server.stop()
    miniprogram_server.stop()
    store_server.stop()


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the node ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``make test``'s two workers (``--dist loadgroup``): a test file runs whole on one
    worker, and the end-to-end files all on the same one, in order, against one local stack (they
    share its tenant, as someone trying the README on one `make run` does)."""
    for item in items:
        path = item.path.as_posix()
        group = "e2e" if "/tests/e2e/" in path else path
        item.add_marker(pytest.mark.xdist_group(group))
