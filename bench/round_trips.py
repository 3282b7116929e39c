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


def report(label: str, calls: Counter[str], budget: int | None, floor: int | None = None) -> bool:
    """Print one path's figure (beside its floor, the fewest it could take, when given); whether it
    is within its budget (a path without one always is)."""
    total = sum(count for name, count in calls.items() if not name.startswith("secretsmanager"))
    detail = ", ".join(f"{name} x{count}" for name, count in sorted(calls.items()))
    ratio = f"{total / budget:.2f} of budget {budget}" if budget else "no budget (informational)"
    ratio += f", floor {floor}" if floor else ""
    within = budget is None or total <= budget
    print(f"{label:44} {total:3d} round trips  ratio {ratio}{'' if within else '  OVER BUDGET'}   [{detail}]")
    return within


FLOOR = 2
"""One batched read and one transaction: the fewest round trips an event that reads and writes takes."""


def _refund_and_completion(
    functions: Any, through_queue: Callable[[str, str], Callable[[], Any]]
) -> list[bool]:
    """A refund, then the completion, of the affiliate order paid before: each share (A's
    commission, B's invite reward) gives back its part, then its hold gets its date."""
    from incentives.runtime import wiring
    from incentives.storage.affiliates import TableAffiliates
    from tests.support import order_completed, order_refunded, webhook_event

    within = []
    shares = TableAffiliates(wiring.table())
    for label, body in (
        ("processor: order.refunded, affiliate + upline", order_refunded("O-bench-aff", "R-bench", 1000)),
        ("processor: order.completed, affiliate + upline", order_completed("O-bench-aff", _now_iso())),
    ):
        functions.invoke("OrderWebhookFunction", webhook_event(body))
        with counting() as calls:
            answer = through_queue("EventsQueue", "EventProcessorFunction")()
        _drop_event_source_calls(calls)
        assert answer == {"batchItemFailures": []}, answer
        within.append(report(label, calls, FLOOR, FLOOR))
    for role in ("commission", "invite"):
        share = shares.share("ww-local-corp", "O-bench-aff", role)
        assert share is not None and int(share["reversed_fen"]) > 0 and share["completed_at"], share
        hold = wiring.ledger_repository().hold(
            _affiliate_account(share["beneficiary_id"]), f"aff:O-bench-aff:{role}"
        )
        assert hold is not None and hold.hold_until is not None
        assert hold.remaining_fen == int(share["amount_fen"]) - int(share["reversed_fen"]), (hold, share)
    return within


def _affiliate_account(affiliate_id: str) -> Any:
    from incentives.affiliates.commission import account

    return account("ww-local-corp", affiliate_id)


LARGE_LINES, LARGE_REFUNDS = 2_000, 20


def _large_order(functions: Any, resolver: Any, config: Any) -> bool:
    """A 2,000-line order and 20 refunds (each refunds a twentieth of the lines in full), applied
    by the processor: round trips and the largest item of the order against DynamoDB's 400 KB."""
    from datetime import UTC, datetime

    from incentives.runtime import wiring
    from incentives.storage.table import MAX_ITEM_BYTES, item_size, query_all
    from infra.local.poller import sqs_event
    from tests.support.large_orders import large_order, total_paid

    corp = "ww-local-corp"
    paid, *refunds = large_order(
        corp, "O-large", LARGE_LINES, LARGE_REFUNDS, datetime(2026, 11, 11, tzinfo=UTC)
    )
    arn = resolver.attributes[("EventsQueue", "Arn")]
    with counting() as calls:
        answer = functions.invoke("EventProcessorFunction", sqs_event([paid], arn, config.region))
    assert answer == {"batchItemFailures": []}, answer
    report(f"processor: order.paid, {LARGE_LINES:,} lines", calls, None)
    with counting() as calls:
        for refund in refunds:
            answer = functions.invoke("EventProcessorFunction", sqs_event([refund], arn, config.region))
            assert answer == {"batchItemFailures": []}, answer
    report(f"processor: {LARGE_REFUNDS} refunds of it (all)", calls, None)
    state = wiring.order_repository().get(corp, "O-large")
    assert state is not None and state.refunded_fen == state.paid_fen == total_paid(LARGE_LINES), state
    items = query_all(wiring.table(), f"T#{corp}#ORDER#O-large")
    largest = max(item_size(item) for item in items)
    within = largest <= MAX_ITEM_BYTES
    print(
        f"{'order of ' + format(LARGE_LINES, ',') + ' lines, ' + str(LARGE_REFUNDS) + ' refunds':44} "
        f"{len(items):3d} items      largest {largest / 1024:.0f} KB of the {MAX_ITEM_BYTES // 1024} KB limit"
        f"{'' if within else '  OVER THE LIMIT'}"
    )
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


def _affiliate_program() -> None:
    """A program with levels, promoter A (upline B) and customer C bound to A, made through the layer's
    services: the affiliate path below decides, credits and counts level figures."""
    from datetime import UTC, datetime, timedelta

    from incentives.affiliates.program import ProgramSettings
    from incentives.levels.service import save_settings as save_levels
    from incentives.levels.settings import LevelSettings
    from incentives.runtime import wiring
    from incentives.storage.affiliates import store
    from incentives.storage.affiliates.membership import ApplicationInput, submit_application
    from incentives.storage.affiliates.referrals import bind
    from incentives.webhook.models import ReferralClicked

    wiring.reset()
    table, corp, now = wiring.table(), "ww-local-corp", datetime.now(UTC)
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
        customer_id="oUnion-bench", affiliate_id="aff-A", clicked_at=now - timedelta(hours=1)
    )
    bind(table, corp, "click-bench", click, now)


def _now_iso() -> str:
    """Paid now: after the customer's click, so A (bound) and B (A's upline) both earn."""
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()


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

    _affiliate_program()
    functions.invoke(
        "OrderWebhookFunction",
        webhook_event(order_paid("O-bench-aff", customer_id="oUnion-bench", paid_at=_now_iso())),
    )
    with counting() as calls:
        answer = through_queue("EventsQueue", "EventProcessorFunction")()
    _drop_event_source_calls(calls)
    assert answer == {"batchItemFailures": []}, answer
    within.append(report("processor: order.paid, affiliate + upline + levels", calls, BUDGET))
    from incentives.runtime import wiring

    standing = wiring.level_repository().standing("ww-local-corp", "aff-A")
    assert standing.totals.get("paid_orders") == 1 and standing.owes_assessment, standing
    upline = wiring.level_repository().standing("ww-local-corp", "aff-B")
    assert upline.totals.get("paid_orders") == 1, upline

    within += _refund_and_completion(functions, through_queue)
    within.append(_large_order(functions, resolver, config))

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
