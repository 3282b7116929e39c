"""Following a scheduled job's run to its end, so ``fire`` reports what the whole fan-out did.

A job function's scheduled invocation only starts its run: one message per shard on the
function's work queue; the shard readers send one message per due entry, and the units run
downstream (``incentives.runtime.fanout``). ``fire`` follows them:

- :func:`drive` when nothing else consumes the queue (an ephemeral endpoint, a test's stack):
  receive and invoke here, batch after batch, as the event source mapping would, until the
  queue is empty;
- :func:`follow` when the running stack's poller consumes it: wait for the outcomes of the run's
  messages (the poller writes what each record's handler returned) until every shard was read
  and every entry it sent was done.

Either way the report is the run's start plus the units' summed counts (``settled``, ``emitted``
…), the number of entries done and those that failed.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from infra.local.lambdas import Functions
from infra.local.outcomes import OutcomeLog, record_failures, record_results
from infra.local.poller import failed_message_ids, sqs_event
from infra.local.template import QueueMapping


@dataclass
class RunReport:
    started: dict[str, Any]
    """What the scheduled invocation returned (run id, clock, shards, the names of its counts)."""
    counts: Counter[str] = field(default_factory=Counter)
    shards_read: int = 0
    items_sent: int = 0
    items_done: int = 0
    failed: list[str] = field(default_factory=list)

    def add(self, result: Any) -> None:
        if not isinstance(result, dict):
            return
        if "queued" in result:
            self.shards_read += 1
            self.items_sent += int(result["queued"])
            return
        self.items_done += 1
        self.items_sent += int(result.get("sent", 0))  # work the unit left to the run (a next page)
        self.counts.update(
            {k: v for k, v in result.items() if k not in ("run", "sent") and isinstance(v, int)}
        )

    @property
    def complete(self) -> bool:
        shards = int(self.started.get("shards", 0))
        return not self.failed and self.shards_read >= shards and self.items_done >= self.items_sent

    def summary(self) -> dict[str, Any]:
        """The run as the job's former single invocation reported it, plus how the fan-out went."""
        start = {key: value for key, value in self.started.items() if key != "counts"}
        return {
            **start,
            **dict(self.started.get("counts", {})),
            **self.counts,
            "items": self.items_done,
            "failed": self.failed,
        }


def started_run(result: Any) -> bool:
    """Whether an invocation's answer is the start of a fanned-out run."""
    return isinstance(result, dict) and "run" in result and "shards" in result


def drive(
    functions: Functions,
    sqs: Any,
    mapping: QueueMapping,
    queue_url: str,
    queue_arn: str,
    region: str,
    started: dict[str, Any],
) -> RunReport:
    """Consume the job's work queue here until it is empty; returns the run's report.

    A record that fails stays on the queue (invisible for its visibility timeout, then retried by
    whoever consumes the queue) and is reported as failed."""
    report = RunReport(started)
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=min(mapping.batch_size, 10), AttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            return report
        with record_failures() as errors, record_results() as results:
            answer = functions.invoke(mapping.function, sqs_event(batch, queue_arn, region))
        failed = failed_message_ids(answer, mapping, batch)
        done = [message for message in batch if message["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        for message in batch:
            message_id = message["MessageId"]
            if message_id in failed:
                report.failed.append(f"{message_id}: {errors.get(message_id, 'reported as failed')}")
            else:
                report.add(results.get(message_id))


def follow(outcomes: OutcomeLog, started: dict[str, Any], timeout: float) -> RunReport:
    """Wait (up to ``timeout`` seconds) for the running stack to finish the run; returns its report
    (incomplete when the time ran out)."""
    deadline = time.monotonic() + timeout
    while True:
        report = RunReport(started)
        for outcome in outcomes.all():
            if (
                outcome.ok
                and isinstance(outcome.result, dict)
                and outcome.result.get("run") == started["run"]
            ):
                report.add(outcome.result)
        if report.complete or time.monotonic() >= deadline:
            return report
        time.sleep(0.2)
