"""What became of the queue messages an ``invoke`` produced.

``invoke`` runs one function in its own process; the messages it queues are consumed by the
running stack's pollers in another. Each poller writes, per message and receive, the outcome
(done, or failed with the consumer's error) under ``.local/outcomes/``; ``invoke`` notes the
messages its function sent (a botocore hook) and waits a little for their outcomes, so a sample
whose effect fails downstream says so instead of failing silently five times into the DLQ.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.local.config import LocalConfig
from infra.local.template import ROOT

_failures = threading.local()


def _install_failure_capture() -> None:
    """Powertools' BatchProcessor catches each record's exception and reports only the record's
    id to SQS; keep the exception too, per thread (an instance serves one invocation at a time).
    Keep what each successful record's handler returned as well (a scheduled job's counts)."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor

    failure_handler = BatchProcessor.failure_handler
    if getattr(failure_handler, "captures", False):
        return
    success_handler = BatchProcessor.success_handler

    def keeping(self: BatchProcessor, record: Any, result: Any) -> Any:
        kept = getattr(_failures, "results", None)
        if kept is not None:
            raw = record if isinstance(record, dict) else {}  # Powertools hands over the raw record
            message_id = raw.get("messageId") or getattr(record, "message_id", "")
            kept[str(message_id)] = result
        return success_handler(self, record, result)

    BatchProcessor.success_handler = keeping  # type: ignore[method-assign]

    def capturing(self: BatchProcessor, record: Any, exception: Any) -> Any:
        captured = getattr(_failures, "by_message", None)
        if captured is not None:
            message_id = getattr(record, "message_id", None) or getattr(record, "messageId", "")
            captured[str(message_id)] = f"{exception[0].__name__}: {exception[1]}"
        return failure_handler(self, record, exception)

    capturing.captures = True  # type: ignore[attr-defined]
    BatchProcessor.failure_handler = capturing  # type: ignore[method-assign]


@contextmanager
def record_failures() -> Iterator[dict[str, str]]:
    """The errors of the records that fail in this thread meanwhile: message id → error."""
    _install_failure_capture()
    _failures.by_message = {}
    try:
        yield _failures.by_message
    finally:
        _failures.by_message = None


@contextmanager
def record_results() -> Iterator[dict[str, Any]]:
    """What the handlers of the records that succeed in this thread meanwhile returned: message id →
    result (JSON-able values only are kept in the outcome log)."""
    _install_failure_capture()
    _failures.results = {}
    try:
        yield _failures.results
    finally:
        _failures.results = None


@dataclass(frozen=True)
class Outcome:
    message_id: str
    function: str
    receive_count: int
    max_receive_count: int | None
    ok: bool
    error: str = ""
    result: Any = None
    """What the record's handler returned, when it succeeded and returned a JSON object."""

    def describe(self) -> str:
        if self.ok:
            return f"{self.function} consumed message {self.message_id}: ok"
        attempts = f"receive {self.receive_count}" + (
            f" of {self.max_receive_count}, then the DLQ" if self.max_receive_count else ""
        )
        return f"{self.function} FAILED on message {self.message_id} ({attempts}): {self.error}"


class OutcomeLog:
    """One file per message under the stack's directory, one JSON line per receive."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def of(cls, config: LocalConfig) -> OutcomeLog:
        return cls(ROOT / ".local" / "outcomes" / f"{config.stack_name}-{config.aws_port}")

    def clear(self) -> None:
        if self.directory.is_dir():
            for path in self.directory.glob("*.jsonl"):
                path.unlink(missing_ok=True)

    def write(self, outcome: Outcome) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        line = json.dumps(outcome.__dict__, ensure_ascii=False)
        with (self.directory / f"{outcome.message_id}.jsonl").open("a", encoding="utf-8") as file:
            file.write(line + "\n")

    def read(self, message_id: str) -> list[Outcome]:
        path = self.directory / f"{message_id}.jsonl"
        if not path.is_file():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
        return [Outcome(**json.loads(line)) for line in lines if line.strip()]

    def all(self) -> list[Outcome]:
        """Every outcome recorded so far (each message's receives in order)."""
        if not self.directory.is_dir():
            return []
        found: list[Outcome] = []
        for path in sorted(self.directory.glob("*.jsonl")):
            found += self.read(path.stem)
        return found

    def wait(self, message_ids: list[str], timeout: float) -> dict[str, Outcome | None]:
        """Each message's first outcome (its first receive tells whether it fails), or None."""
        deadline = time.monotonic() + timeout
        found: dict[str, Outcome | None] = dict.fromkeys(message_ids)
        while True:
            for message_id in message_ids:
                if found[message_id] is None:
                    outcomes = self.read(message_id)
                    found[message_id] = outcomes[0] if outcomes else None
            if all(found.values()) or time.monotonic() >= deadline:
                return found
            time.sleep(0.2)


@contextmanager
def sent_messages() -> Iterator[list[tuple[str, str]]]:
    """(queue URL, message id) of every message sent meanwhile by clients of boto3's default
    session (the functions' clients), created after entering."""
    import boto3

    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    events = boto3.DEFAULT_SESSION.events
    sent: list[tuple[str, str]] = []

    def remember_queue(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["local_queue_url"] = params.get("QueueUrl", "")

    def remember_ids(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        queue = context.get("local_queue_url", "")
        if parsed.get("MessageId"):
            sent.append((queue, str(parsed["MessageId"])))
        for entry in parsed.get("Successful", []) or []:
            sent.append((queue, str(entry["MessageId"])))

    hooks = [
        (f"{stage}.sqs.{operation}", handler)
        for operation in ("SendMessage", "SendMessageBatch")
        for stage, handler in (("provide-client-params", remember_queue), ("after-call", remember_ids))
    ]
    for name, handler in hooks:
        events.register(name, handler, unique_id=f"local-outcomes-{name}")
    try:
        yield sent
    finally:
        for name, _handler in hooks:
            events.unregister(name, unique_id=f"local-outcomes-{name}")
