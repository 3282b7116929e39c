"""SQS event source mappings, as Lambda runs them: batch size, partial failures, visibility, DLQ.

A failed record is simply not deleted: it becomes visible again after the queue's
visibility timeout and is received again; the queue's redrive policy (moto honours it)
moves it to the dead-letter queue once it has been received ``maxReceiveCount`` times.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from infra.local.lambdas import Functions
from infra.local.outcomes import Outcome, OutcomeLog, record_failures, record_results
from infra.local.template import QueueMapping, Resolver

log = logging.getLogger("local.poller")


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS integration delivers for a batch of received messages."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


def failed_message_ids(response: Any, mapping: QueueMapping, batch: list[dict[str, Any]]) -> set[str]:
    """Which records of the batch failed, per the function's answer and its response types."""
    if not mapping.report_batch_item_failures:
        return set()
    if not isinstance(response, dict) or "batchItemFailures" not in response:
        return set()
    ids = {message["MessageId"] for message in batch}
    failed = {str(item.get("itemIdentifier")) for item in response["batchItemFailures"]}
    if not failed <= ids:
        # Lambda treats an unknown or empty identifier as a failure of the whole batch.
        return ids
    return failed


def _json_object(result: Any) -> dict[str, Any] | None:
    """A record handler's result as the outcome log keeps it: a JSON object, else nothing."""
    if not isinstance(result, dict):
        return None
    try:
        return dict(json.loads(json.dumps(result)))
    except (TypeError, ValueError):
        return None


class QueuePoller:
    """One thread per event source mapping."""

    def __init__(
        self,
        mapping: QueueMapping,
        resolver: Resolver,
        functions: Functions,
        sqs: Any,
        region: str,
        wait: int,
        outcomes: OutcomeLog | None = None,
    ) -> None:
        self._mapping = mapping
        self._url = resolver.refs[mapping.queue]
        self._arn = resolver.attributes[(mapping.queue, "Arn")]
        self._functions = functions
        self._sqs = sqs
        self._region = region
        self._wait = wait
        self._outcomes = outcomes
        self._max_receive_count: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"poller-{mapping.function}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._wait + 5)

    def poll_once(self) -> int:
        """Receive one batch, invoke the function, delete what succeeded. Returns the batch size."""
        response = self._sqs.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=min(self._mapping.batch_size, 10),
            WaitTimeSeconds=self._wait,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        batch = response.get("Messages", [])
        if not batch:
            return 0
        with record_failures() as errors, record_results() as results:
            try:
                answer = self._functions.invoke(
                    self._mapping.function, sqs_event(batch, self._arn, self._region)
                )
            except Exception as error:
                log.exception(
                    "%s failed on a batch of %d; all will be retried", self._mapping.function, len(batch)
                )
                whole = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
                self._record(batch, {m["MessageId"] for m in batch}, errors, whole, {})
                return len(batch)
        failed = failed_message_ids(answer, self._mapping, batch)
        self._record(batch, failed, errors, "the function reported the record as failed", results)
        done = [message for message in batch if message["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        if failed:
            log.warning(
                "%s: %d of %d records failed; they will be retried",
                self._mapping.function,
                len(failed),
                len(batch),
            )
        return len(batch)

    def _record(
        self,
        batch: list[dict[str, Any]],
        failed: set[str],
        errors: dict[str, str],
        default: str,
        results: dict[str, Any],
    ) -> None:
        """Each message's outcome, for ``invoke`` to report (see ``infra.local.outcomes``)."""
        if self._outcomes is None:
            return
        if self._max_receive_count is None:
            attributes = self._sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=["RedrivePolicy"])
            policy = attributes.get("Attributes", {}).get("RedrivePolicy")
            self._max_receive_count = int(json.loads(policy)["maxReceiveCount"]) if policy else 0
        for message in batch:
            message_id = message["MessageId"]
            self._outcomes.write(
                Outcome(
                    message_id,
                    self._mapping.function,
                    int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
                    self._max_receive_count or None,
                    message_id not in failed,
                    "" if message_id not in failed else errors.get(message_id, default),
                    _json_object(results.get(message_id)),
                )
            )

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("polling %s failed", self._url)
                time.sleep(1)
