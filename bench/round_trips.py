"""AWS round trips per path: every botocore API call counted, on the real handlers over moto.

    python -m bench.round_trips

Prints each path's calls (by operation) beside its floor, the fewest DynamoDB / SQS round trips
the path logically needs, and, where SPEC §6 sets one, its budget; exits 1 at the end if a
path is over a budget (§6 sets one: ``order.paid`` with affiliate + upline ≤ 3). Warm
invocations are measured (Secrets Manager answers are cached per container, as on Lambda);
the queue receive / delete of an SQS-triggered function are the event source mapping's, not
counted.

Floors (reads + writes + queue sends the path cannot do without):

- webhook, accept an event: 2 (keep the raw event, send it to the queue).
- processor, ``order.paid`` without an affiliate: 2 (one batched read of the order, the program
  and the customer's binding, which names nobody; one transaction).
- processor, ``order.paid`` with affiliate + upline: 3 (the affiliate and upline are known only
  from the customer's binding: a second batched read; one transaction). SPEC's budget: 3.
- processor, ``order.refunded`` / ``order.completed`` with affiliate + upline: 2 (one batched
  read of the order, its decision, both shares and the figures; one transaction).
- a 2,000-line order and 20 refunds: its items against DynamoDB's 400 KB item limit. Its
  ``order.paid``: 2 plus one transaction per 100 of its distinct products (the customer's
  products-bought markers the application conditions read, seed 001 §2.2; DynamoDB takes at most
  100 items in a transaction; up to 25 ride in the payment's own): 22 for 2,000 products.
- webhook, accept that order (with long product names: larger than an SQS message): 3 (keep the
  raw event, put its body's chunks in one transaction, send the claim check).
- processor, that claim check: 1 more than its ``order.paid`` (read the chunks in one batch).
- window job, one due order: 1 (send the closing event; the index projection carries the
  order, so there is nothing to read).
- processor, ``order.after_sales_window_closed`` of a commissioned order: 2 (read the order,
  write it closed; its commissions were scheduled at completion and do not depend on it).
- processor, a guide reward (a customer behavior the guide brought), paid offline: 2 (one
  batched read of rule, guide, settings, the reward's and occurrence's keys and the counters;
  one transaction with the occurrence, usage, reward, ledger entries and payout). Paid online:
  3, one more for the payout's send to its queue (the payee's openid comes from WeCom, not AWS;
  the container's WeCom token is read once).
- payout worker, one clean payout: 3 (read the payout; store ``sending`` before the provider
  call, SPEC §4.7; store ``paid`` with its ledger entry).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "layers" / "incentives" / "python"))

from bench import round_trip_setup as setup  # noqa: E402

ORDER_PAID_BUDGET = 3
"""SPEC §6: DynamoDB / SQS calls per ``order.paid`` with affiliate + upline + guide."""


@contextmanager
def counting() -> Iterator[Counter[str]]:
    import botocore.client

    calls: Counter[str] = Counter()
    original = botocore.client.BaseClient._make_api_call

    def counted(self: Any, operation: str, params: Any) -> Any:
        calls[f"{self.meta.service_model.service_name}:{operation}"] += 1
        return original(self, operation, params)

    botocore.client.BaseClient._make_api_call = counted  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


def report(label: str, calls: Counter[str], floor: int, budget: int | None = None) -> bool:
    """Print one path's figure beside its floor (and budget); whether it is within its budget
    (a path SPEC §6 sets no budget for always is)."""
    total = sum(count for name, count in calls.items() if not name.startswith("secretsmanager"))
    detail = ", ".join(f"{name} x{count}" for name, count in sorted(calls.items()))
    limit = f"budget {budget}" if budget is not None else "no budget"
    within = budget is None or total <= budget
    flag = "" if within else "  OVER BUDGET"
    print(f"{label:52} {total:3d} round trips  floor {floor:2d}  {limit:9}{flag}   [{detail}]")
    return within


LARGE_LINES, LARGE_REFUNDS = 2_000, 20


def _large_order(functions: Any, resolver: Any, config: Any) -> bool:
    """A 2,000-line order and 20 refunds (each refunds a twentieth of the lines in full), applied
    by the processor: round trips and the largest item of the order against DynamoDB's 400 KB."""

    import json

    from incentives.runtime import wiring
    from incentives.storage.table import MAX_ITEM_BYTES, item_size, query_all
    from infra.local.poller import sqs_event
    from tests.support.large_orders import large_order, total_paid

    _large_order_through_the_webhook(functions, resolver, config)

    corp = setup.CORP
    paid, *refunds = large_order(
        corp, "O-large", LARGE_LINES, LARGE_REFUNDS, datetime(2026, 11, 11, tzinfo=UTC)
    )
    arn = resolver.attributes[("EventsQueue", "Arn")]
    with counting() as calls:
        answer = functions.invoke("EventProcessorFunction", sqs_event([paid], arn, config.region))
    assert answer == {"batchItemFailures": []}, answer
    lines = json.loads(paid["Body"])["event"]["data"]["lines"]
    report(f"processor: order.paid, {LARGE_LINES:,} lines", calls, _paid_floor(lines))
    with counting() as calls:
        for refund in refunds:
            answer = functions.invoke("EventProcessorFunction", sqs_event([refund], arn, config.region))
            assert answer == {"batchItemFailures": []}, answer
    report(f"processor: {LARGE_REFUNDS} refunds of it (all)", calls, 2 * LARGE_REFUNDS)
    state = wiring.order_repository().get(corp, "O-large")
    assert state is not None and state.refunded_fen == state.paid_fen == total_paid(LARGE_LINES), state
    items = query_all(wiring.table(), f"T#{corp}#ORDER#O-large")
    largest = max(item_size(item) for item in items)
    within = largest <= MAX_ITEM_BYTES
    print(
        f"{'order of ' + format(LARGE_LINES, ',') + ' lines, ' + str(LARGE_REFUNDS) + ' refunds':52} "
        f"{len(items):3d} items      largest {largest / 1024:.0f} KB of the {MAX_ITEM_BYTES // 1024} KB limit"
        f"{'' if within else '  OVER THE LIMIT'}"
    )
    return within


def _paid_floor(lines: list[dict[str, Any]]) -> int:
    """An ``order.paid``'s floor without an affiliate to read: one batched read and one
    transaction, which carries up to 25 products-bought markers; a larger basket's markers take
    one transaction per 100 distinct products of their own."""
    from incentives.affiliates.activity import BOUGHT_INLINE
    from incentives.storage.table import MAX_TRANSACTION_ITEMS

    products = len({line["product_id"] for line in lines})
    return 2 if products <= BOUGHT_INLINE else 2 + -(-products // MAX_TRANSACTION_ITEMS)


def _large_order_through_the_webhook(functions: Any, resolver: Any, config: Any) -> None:
    """The same order sent by the merchant (long product names, larger than an SQS message): the
    webhook keeps its body in chunks and queues a claim check; the processor resolves it."""
    import json

    from infra.local import aws
    from infra.local.poller import sqs_event
    from tests.support import webhook_event
    from tests.support.large_orders import large_order_events, total_paid

    [paid] = large_order_events(
        "O-large-hook", LARGE_LINES, 0, datetime(2026, 11, 11, tzinfo=UTC), names=True
    )
    raw = json.dumps(paid, ensure_ascii=False).encode()
    with counting() as calls:
        answer = functions.invoke("OrderWebhookFunction", webhook_event(raw))
    assert answer["statusCode"] == 202, answer
    report(f"webhook: accept order.paid, {LARGE_LINES:,} lines ({len(raw) // 1024} KB)", calls, 3)
    sqs, url = aws.client("sqs", config), resolver.refs["EventsQueue"]
    [message] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"])["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert "claim_check" in json.loads(message["Body"]), message["Body"][:200]
    arn = resolver.attributes[("EventsQueue", "Arn")]
    with counting() as calls:
        answer = functions.invoke("EventProcessorFunction", sqs_event([message], arn, config.region))
    assert answer == {"batchItemFailures": []}, answer
    report(
        f"processor: its claim check ({len(message['Body'])} B message)",
        calls,
        1 + _paid_floor(paid["data"]["lines"]),
    )
    from incentives.runtime import wiring

    state = wiring.order_repository().get(setup.CORP, "O-large-hook")
    assert state is not None and state.paid_fen == total_paid(LARGE_LINES), state


def _drop_event_source_calls(calls: Counter[str]) -> None:
    """The queue receive / delete are Lambda's event source mapping, not the function's."""
    for name in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:DeleteMessageBatch"):
        calls.pop(name, None)


def main() -> int:
    import logging

    from incentives.wecom.crypto import CallbackCrypto
    from infra.local import aws
    from infra.local.config import LocalConfig
    from infra.local.lambdas import Functions
    from infra.local.poller import sqs_event
    from infra.local.sandboxes.payments import Merchant, PaymentsSandbox, PaymentsSandboxServer
    from infra.local.sandboxes.wecom import WeComSandbox, WeComSandboxServer
    from infra.local.scheduler import scheduled_event
    from infra.local.template import read_stack
    from tests.support import order_completed, order_paid, order_refunded, webhook_event

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    server = aws.MotoServer("127.0.0.1", 0)
    server.start()
    port = server.port
    base = LocalConfig.from_env()
    books = PaymentsSandbox(
        {
            base.wecom_pay_mch_id: Merchant(
                base.wecom_pay_mch_id, base.wecom_pay_api_key, base.wecom_pay_secret
            )
        }
    )
    payments = PaymentsSandboxServer(books, "127.0.0.1", 0)
    payments.start()
    crypto = CallbackCrypto(base.callback_token, base.encoding_aes_key, base.corp_id)
    wecom = WeComSandbox(base.corp_id, base.wecom_secret, crypto, "http://127.0.0.1:9/")
    wecom.users[setup.GUIDE] = {"userid": setup.GUIDE, "name": "张伟", "department": [2]}
    wecom_server = WeComSandboxServer(wecom, "127.0.0.1", 0)
    wecom_server.start()
    config = dataclasses.replace(
        base,
        aws_port=port,
        stack_name=f"bench{uuid.uuid4().hex[:6]}",
        payments_port=int(payments.base_url.rsplit(":", 1)[1]),
        wecom_port=int(wecom_server.base_url.rsplit(":", 1)[1]),
    )
    template = read_stack()
    resolver = aws.provision(template, config)
    os.environ.update(aws.function_environment(template, resolver, config))
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    functions = Functions(template, config.region, config.function_concurrency)
    sqs = aws.client("sqs", config)

    def through_queue(queue: str, function: str) -> Callable[[], Any]:
        def run() -> Any:
            url = resolver.refs[queue]
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])[
                "Messages"
            ]
            for message in batch:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            return functions.invoke(
                function, sqs_event(batch, resolver.attributes[(queue, "Arn")], config.region)
            )

        return run

    def drain(queue: str, function: str, kind: str) -> None:
        """Invoke ``function`` on the messages of ``queue`` whose work is of ``kind`` until none is
        left (uncounted); the others stay on the queue."""
        url = resolver.refs[queue]
        while True:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
            messages = [m for m in batch.get("Messages", []) if f'"kind":"{kind}"' in m["Body"]]
            for message in batch.get("Messages", []):
                if message in messages:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                else:
                    sqs.change_message_visibility(
                        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
            if not messages:
                return
            functions.invoke(
                function, sqs_event(messages, resolver.attributes[(queue, "Arn")], config.region)
            )

    def purge(queue: str) -> None:
        """Drop what ``queue`` holds (work a path left for another path)."""
        url = resolver.refs[queue]
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            for message in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def measured(label: str, run: Callable[[], Any], floor: int, budget: int | None = None) -> Any:
        with counting() as calls:
            answer = run()
        _drop_event_source_calls(calls)
        within.append(report(label, calls, floor, budget))
        return answer

    def accept(body: dict[str, Any]) -> None:
        answer = functions.invoke("OrderWebhookFunction", webhook_event(body))
        assert answer["statusCode"] == 202, answer

    print("AWS round trips per path (warm containers; secrets cached as on Lambda)")
    within: list[bool] = []
    accept(order_paid("warm-up"))
    through_queue("EventsQueue", "EventProcessorFunction")()
    measured("webhook: accept order.paid", lambda: accept(order_paid("O-bench")), 2)
    answer = measured(
        "processor: apply order.paid (no affiliate)",
        through_queue("EventsQueue", "EventProcessorFunction"),
        2,
        ORDER_PAID_BUDGET,
    )
    assert answer == {"batchItemFailures": []}, answer

    from incentives.runtime import wiring

    applied = wiring.order_repository().get(setup.CORP, "O-bench")
    assert applied is not None and applied.paid is not None, applied  # the order really was applied

    now = datetime.now(UTC)  # after the customer's click: A (bound) and B (A's upline) earn
    setup.affiliate_program(now)
    accept(order_paid("O-bench-aff", customer_id="oUnion-bench", paid_at=now.isoformat()))
    answer = measured(
        "processor: order.paid, affiliate + upline + levels",
        through_queue("EventsQueue", "EventProcessorFunction"),
        3,
        ORDER_PAID_BUDGET,
    )
    assert answer == {"batchItemFailures": []}, answer
    setup.assert_commissions_paid(10_000)

    accept(order_refunded("O-bench-aff", "R-bench", 1000))
    answer = measured(
        "processor: order.refunded, affiliate + upline",
        through_queue("EventsQueue", "EventProcessorFunction"),
        2,
    )
    assert answer == {"batchItemFailures": []}, answer
    accept(order_completed("O-bench-aff", (now + timedelta(minutes=1)).isoformat()))
    answer = measured(
        "processor: order.completed, affiliate + upline",
        through_queue("EventsQueue", "EventProcessorFunction"),
        2,
    )
    assert answer == {"batchItemFailures": []}, answer
    from incentives.affiliates.commission import account
    from incentives.storage.affiliates import TableAffiliates

    shares = TableAffiliates(wiring.table())
    for role in ("commission", "invite"):  # each share gave back its part, then its hold got its date
        share = shares.share(setup.CORP, "O-bench-aff", role)
        assert share is not None and int(share["reversed_fen"]) > 0 and share["completed_at"], share
        hold = wiring.ledger_repository().hold(
            account(setup.CORP, share["beneficiary_id"]), f"aff:O-bench-aff:{role}"
        )
        assert hold is not None and hold.hold_until is not None
        assert hold.remaining_fen == int(share["amount_fen"]) - int(share["reversed_fen"]), (hold, share)
    within.append(_large_order(functions, resolver, config))
    schedule = next(s for s in template.schedules if s.function == "AfterSalesWindowFunction")
    started = functions.invoke(
        "AfterSalesWindowFunction", scheduled_event(schedule, now + timedelta(days=8), config.region, "b")
    )
    assert started["shards"] > 0, started
    drain("WindowWorkQueue", "AfterSalesWindowFunction", "shard")
    answer = measured(
        "window job: close one due order",
        through_queue("WindowWorkQueue", "AfterSalesWindowFunction"),
        1,
    )
    assert answer == {"batchItemFailures": []}, answer
    answer = measured(
        "processor: window closed, commissioned order",
        through_queue("EventsQueue", "EventProcessorFunction"),
        2,
    )
    assert answer == {"batchItemFailures": []}, answer
    closed = wiring.order_repository().get(setup.CORP, "O-bench-aff")
    assert closed is not None and closed.status.value == "closed", closed

    setup.guide_program()
    accept(setup.store_visit("visit-warm-up"))
    through_queue("EventsQueue", "EventProcessorFunction")()
    purge("PayoutQueue")
    accept(setup.store_visit("visit-bench"))
    answer = measured(
        "processor: a guide reward, paid offline",
        through_queue("EventsQueue", "EventProcessorFunction"),
        2,
    )
    assert answer == {"batchItemFailures": []}, answer
    rewards = [r for r in setup.rewards_of_guide() if r["source_event_id"] == "visit-bench"]
    assert [r["amount_fen"] for r in rewards] == [200], rewards

    setup.pay_guides_online()
    accept(setup.store_visit("visit-online-warm-up"))  # the container's WeCom token, read once
    through_queue("EventsQueue", "EventProcessorFunction")()
    accept(setup.store_visit("visit-online"))
    answer = measured(
        "processor: a guide reward paid online, queued",
        through_queue("EventsQueue", "EventProcessorFunction"),
        3,
    )
    assert answer == {"batchItemFailures": []}, answer
    [online] = [r for r in setup.rewards_of_guide() if r["source_event_id"] == "visit-online"]
    assert online["payment_method"] == "online" and online["amount_fen"] == 200, online
    purge("PayoutQueue")  # the warm-up's payout and this one's: the worker is measured on this one

    payout_id = setup.payout_waiting(str(online["reward_id"]))
    answer = measured(
        "payout worker: one clean payout", through_queue("PayoutQueue", "PayoutWorkerFunction"), 3
    )
    assert answer == {"batchItemFailures": []}, answer
    assert [t["number"] for t in books.transfers_made()] == [payout_id]
    payments.stop()
    wecom_server.stop()
    server.stop()
    return 0 if all(within) else 1


if __name__ == "__main__":
    sys.exit(main())
