"""The local pipeline's throughput: commissioned ``order.paid`` events through the event processor on the
embedded endpoint (moto, as ``make run`` and the tests start it).

    python -m bench.throughput [--orders 600]

Queues ``--orders`` events (each a customer buying through an affiliate's link: the decision, the
commission, the upline's invite share, the level figures), then times the event source mapping's
loop as the local stack runs it: receive 10, invoke ``EventProcessorFunction``, delete. Prints
orders per second for the first and the second half (a rate that fell as the table grew would
show), the time 10,000 orders would take at the whole run's rate (or the second half's, if
slower), and checks every order was applied and every commission credited. Exits 1 if 10,000
orders would take more than the budget.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import os
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "layers" / "incentives" / "python"))

CORP = "ww-local-corp"
PAID_AT = "2026-11-01T04:00:00+00:00"
"""Every order's payment: a fixed instant after the program and its affiliates (not today's date)."""
BUDGET_SECONDS = 600
"""10,000 orders within ten minutes on the local stack (issue: "in minutes")."""
AFFILIATES = 20
COMMISSION_BP, INVITE_BP = 1000, 500


def _program() -> None:
    """A program with levels and ``AFFILIATES`` affiliates under one upline, through the layer."""
    from incentives.affiliates.program import ProgramSettings
    from incentives.core.clock import parse_instant
    from incentives.levels.service import save_settings as save_levels
    from incentives.levels.settings import LevelSettings
    from incentives.runtime import wiring
    from incentives.storage.affiliates import store
    from incentives.storage.affiliates.membership import ApplicationInput, submit_application

    wiring.reset()
    table, at = wiring.table(), parse_instant(PAID_AT) - timedelta(days=1)
    settings = {
        "promotion_enabled": True,
        "invitation_image_url": "https://img.example.com/invite.png",
        "commission_rate_bp": COMMISSION_BP,
        "invite_rate_bp": INVITE_BP,
        "application": {"review": "auto"},
    }
    store.save_settings(table, CORP, ProgramSettings.model_validate(settings), at)
    silver = {"conditions": [{"metric": "paid_orders", "at_least": 100}]}
    levels = {"levels": [{"name": "普通"}, {"name": "银牌", "period_days": 30, "threshold": silver}]}
    save_levels(wiring.level_repository(), CORP, LevelSettings.model_validate(levels), at)
    submit_application(table, CORP, "aff-up", ApplicationInput(openid="openid-up"), at)
    for n in range(AFFILIATES):
        body = ApplicationInput(openid=f"openid-{n}", invited_by="aff-up")
        submit_application(table, CORP, f"aff-{n}", body, at)


def _events(count: int) -> list[Any]:
    from incentives.messages.queued import QueuedEvent
    from tests.support import order_paid

    events = []
    for n in range(count):
        body = order_paid(f"O-tp-{n}", customer_id=f"c-tp-{n}", paid_fen=1_000 + n, paid_at=PAID_AT)
        body["data"]["source"] = {"scene": "share", "affiliate_id": f"aff-{n % AFFILIATES}"}
        events.append(QueuedEvent.model_validate({"corp_id": CORP, "received_at": PAID_AT, "event": body}))
    return events


def _check(count: int) -> list[str]:
    """Every order applied, and each affiliate's and the upline's credits what the rates make them."""
    from incentives.affiliates.commission import account
    from incentives.ledger.model import Bucket
    from incentives.runtime import wiring

    def share(fen: int, bp: int) -> int:
        return (2 * fen * bp + 10_000) // 20_000  # half up, to the fen

    expected: dict[str, int] = {}
    for n in range(count):
        fen = 1_000 + n
        expected[f"aff-{n % AFFILIATES}"] = expected.get(f"aff-{n % AFFILIATES}", 0) + share(
            fen, COMMISSION_BP
        )
        expected["aff-up"] = expected.get("aff-up", 0) + share(fen, INVITE_BP)
    ledger, orders = wiring.ledger_repository(), wiring.order_repository()
    problems = [f"order O-tp-{n} not applied" for n in range(count) if orders.get(CORP, f"O-tp-{n}") is None]
    for who, owed in sorted(expected.items()):
        earned = ledger.balance(account(CORP, who))[Bucket.EARNED]
        if earned != owed:
            problems.append(f"{who}: credited {earned} fen, expected {owed}")
    return problems


def main(argv: list[str] | None = None) -> int:
    import logging
    import warnings

    from infra.local import aws
    from infra.local.config import LocalConfig
    from infra.local.lambdas import Functions
    from infra.local.poller import sqs_event
    from infra.local.template import read_stack

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=600)
    count = parser.parse_args(argv).orders
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    server = aws.MotoServer("127.0.0.1", 0)
    server.start()
    config = dataclasses.replace(
        LocalConfig.from_env(), aws_port=server.port, stack_name=f"tp{uuid.uuid4().hex[:6]}"
    )
    template = read_stack()
    resolver = aws.provision(template, config)
    os.environ.update(aws.function_environment(template, resolver, config))
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    functions = Functions(template, config.region, config.function_concurrency)
    sqs = aws.client("sqs", config)
    url, arn = resolver.refs["EventsQueue"], resolver.attributes[("EventsQueue", "Arn")]

    from incentives.runtime import wiring

    _program()
    wiring.event_queue().send(_events(count))
    applied, marks, failures = 0, [], 0
    started = time.perf_counter()
    while applied + failures < count:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
            "Messages", []
        )
        if not batch:
            break
        with contextlib.redirect_stdout(io.StringIO()):  # the handler's metrics lines
            answer = functions.invoke("EventProcessorFunction", sqs_event(batch, arn, config.region))
        failed = {item["itemIdentifier"] for item in answer.get("batchItemFailures", [])}
        for message in batch:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        applied += len(batch) - len(failed)
        failures += len(failed)
        marks.append((applied, time.perf_counter() - started))
    elapsed = time.perf_counter() - started
    half = next((at for done, at in marks if done >= count // 2), elapsed)
    first, second = (count // 2) / half, (count - count // 2) / max(elapsed - half, 1e-9)
    slower = min(count / elapsed, second)  # the whole run's rate, or the later one if the table slowed it
    ten_thousand = 10_000 / slower
    problems = _check(count) + ([f"{failures} records failed"] if failures else [])
    server.stop()
    within = ten_thousand <= BUDGET_SECONDS and not problems
    print(
        f"local pipeline throughput: {count} commissioned order.paid through EventProcessorFunction on moto"
    )
    print(f"  {count} orders in {elapsed:.1f} s = {count / elapsed:.1f} orders/s")
    print(f"  first half {first:.1f} orders/s, second half {second:.1f} orders/s")
    print(
        f"  10,000 orders at {slower:.1f}/s: {ten_thousand / 60:.1f} min"
        f"  budget {BUDGET_SECONDS / 60:.0f} min{'' if ten_thousand <= BUDGET_SECONDS else '  OVER BUDGET'}"
    )
    print(f"  every order applied and every commission credited: {'yes' if not problems else 'NO'}")
    for problem in problems[:5]:
        print(f"    {problem}")
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
