"""AWS round trips per event: every botocore API call counted, on the real handlers over moto.

    python -m bench.round_trips

Prints, per path, the calls made (by operation) and the ratio to SPEC §6's budget of three
DynamoDB / SQS round trips for processing an ``order.paid``, then exits 1 if any path is over
its budget. Warm invocations are measured (Secrets Manager answers are cached per container,
as on Lambda).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "layers" / "incentives" / "python"))

BUDGET = 3


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


def report(label: str, calls: Counter[str], budget: int | None) -> bool:
    """Print one path's figure; whether it is within its budget (a path without one always is)."""
    total = sum(count for name, count in calls.items() if not name.startswith("secretsmanager"))
    detail = ", ".join(f"{name} x{count}" for name, count in sorted(calls.items()))
    ratio = f"{total / budget:.2f} of budget {budget}" if budget else "no budget (informational)"
    within = budget is None or total <= budget
    print(f"{label:44} {total:3d} round trips  ratio {ratio}{'' if within else '  OVER BUDGET'}   [{detail}]")
    return within


def _drop_event_source_calls(calls: Counter[str]) -> None:
    """The queue receive / delete are Lambda's event source mapping, not the function's."""
    for name in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:DeleteMessageBatch"):
        calls.pop(name, None)


def _payout_waiting(functions: Any) -> str:
    """A settled credit and a queued payout for it, made through the layer's services."""
    from datetime import UTC, datetime

    from incentives.ledger import postings
    from incentives.ledger.model import Account, OwnerKind
    from incentives.payouts.creation import PayoutRequest, create_payout
    from incentives.payouts.model import Payee, ProviderName
    from incentives.runtime import wiring

    wiring.reset()
    now = datetime.now(UTC)
    guide = Account("ww-local-corp", OwnerKind.GUIDE, "guide-bench")
    ledger = wiring.ledger_repository()
    ledger.credit(postings.credit(guide, "credit:bench", 5_000, now), hold_until=now)
    hold = ledger.hold(guide, "credit:bench")
    assert hold is not None
    ledger.settle(hold, postings.settlement(hold, now), now)
    payout = create_payout(
        wiring.payout_repository(),
        wiring.payout_queue(),
        PayoutRequest("reward:bench", Payee(guide, "oBench"), 5_000, ProviderName.WECOM_PAY, "bench"),
        now,
    )
    return payout.payout_id


PAID_AT = "2026-11-01T04:00:00+00:00"
"""The affiliate order's payment: a fixed instant after the program, the joining and the click
below (nothing depends on the day the benchmark runs)."""


def _affiliate_program() -> None:
    """A program with levels, promoter A (upline B) and customer C bound to A, made through the layer's
    services: the affiliate path below decides, credits and counts level figures."""
    from datetime import timedelta

    from incentives.affiliates.program import ProgramSettings
    from incentives.core.clock import parse_instant
    from incentives.levels.service import save_settings as save_levels
    from incentives.levels.settings import LevelSettings
    from incentives.runtime import wiring
    from incentives.storage.affiliates import store
    from incentives.storage.affiliates.membership import ApplicationInput, submit_application
    from incentives.storage.affiliates.referrals import bind
    from incentives.webhook.models import ReferralClicked

    wiring.reset()
    table, corp, now = wiring.table(), "ww-local-corp", parse_instant(PAID_AT) - timedelta(days=1)
    settings = {
        "promotion_enabled": True,
        "invitation_image_url": "https://img.example.com/invite.png",
        "commission_rate_bp": 1000,
        "invite_rate_bp": 500,
        "application": {"review": "auto"},
    }
    store.save_settings(table, corp, ProgramSettings.model_validate(settings), now)
    levels = {
        "levels": [
            {"name": "普通", "commission_rate_bp": 1000},
            {
                "name": "银牌",
                "commission_rate_bp": 1500,
                "period_days": 30,
                "threshold": {"conditions": [{"metric": "paid_orders", "at_least": 1}]},
            },
        ]
    }
    save_levels(wiring.level_repository(), corp, LevelSettings.model_validate(levels), now)
    for who, upline in (("aff-B", None), ("aff-A", "aff-B")):
        submit_application(table, corp, who, ApplicationInput(openid=f"openid-{who}", invited_by=upline), now)
    click = ReferralClicked(
        customer_id="oUnion-bench", affiliate_id="aff-A", clicked_at=now + timedelta(hours=1)
    )
    bind(table, corp, "click-bench", click, now + timedelta(hours=1))


def _assert_commissions_paid(order_fen: int) -> None:
    """The affiliate path did what it names: A earned the commission, B (A's upline) the invite share,
    and both beneficiaries' level figures counted the order."""
    from incentives.affiliates.commission import account
    from incentives.ledger.model import Bucket
    from incentives.runtime import wiring

    ledger, corp = wiring.ledger_repository(), "ww-local-corp"
    a, b = ledger.balance(account(corp, "aff-A")), ledger.balance(account(corp, "aff-B"))
    assert a[Bucket.EARNED] == order_fen * 1000 // 10_000, a  # commission_rate_bp 1000
    assert b[Bucket.EARNED] == order_fen * 500 // 10_000, b  # invite_rate_bp 500
    standing = wiring.level_repository().standing(corp, "aff-A")
    assert standing.totals.get("paid_orders") == 1 and standing.owes_assessment, standing
    upline = wiring.level_repository().standing(corp, "aff-B")
    assert upline.totals.get("paid_orders") == 1, upline


def main() -> int:
    import logging

    from infra.local import aws
    from infra.local.config import LocalConfig
    from infra.local.lambdas import Functions
    from infra.local.poller import sqs_event
    from infra.local.sandboxes.payments import Merchant, PaymentsSandbox, PaymentsSandboxServer
    from infra.local.template import read_stack
    from tests.support import order_paid, webhook_event

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
    config = dataclasses.replace(
        base,
        aws_port=port,
        stack_name=f"bench{uuid.uuid4().hex[:6]}",
        payments_port=int(payments.base_url.rsplit(":", 1)[1]),
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

    print("AWS round trips per event (warm containers; secrets cached as on Lambda)")
    functions.invoke("OrderWebhookFunction", webhook_event(order_paid("warm-up")))
    through_queue("EventsQueue", "EventProcessorFunction")()
    with counting() as calls:
        answer = functions.invoke("OrderWebhookFunction", webhook_event(order_paid("O-bench")))
    assert answer["statusCode"] == 202, answer
    within = [report("webhook: accept order.paid", calls, None)]
    with counting() as calls:
        answer = through_queue("EventsQueue", "EventProcessorFunction")()
    _drop_event_source_calls(calls)
    assert answer == {"batchItemFailures": []}, answer
    within.append(report("processor: apply order.paid (no affiliate)", calls, BUDGET))
    from incentives.runtime import wiring

    applied = wiring.order_repository().get("ww-local-corp", "O-bench")
    assert applied is not None and applied.paid is not None, applied  # the order really was applied

    _affiliate_program()
    functions.invoke(
        "OrderWebhookFunction",
        webhook_event(order_paid("O-bench-aff", customer_id="oUnion-bench", paid_at=PAID_AT)),
    )
    with counting() as calls:
        answer = through_queue("EventsQueue", "EventProcessorFunction")()
    _drop_event_source_calls(calls)
    assert answer == {"batchItemFailures": []}, answer
    within.append(report("processor: order.paid, affiliate + upline + levels", calls, BUDGET))
    _assert_commissions_paid(10_000)

    payout_id = _payout_waiting(functions)
    with counting() as calls:
        answer = through_queue("PayoutQueue", "PayoutWorkerFunction")()
    _drop_event_source_calls(calls)
    assert answer == {"batchItemFailures": []}, answer
    assert [t["number"] for t in books.transfers_made()] == [payout_id]
    within.append(report("payout worker: one clean payout", calls, None))
    payments.stop()
    server.stop()
    return 0 if all(within) else 1


if __name__ == "__main__":
    sys.exit(main())
