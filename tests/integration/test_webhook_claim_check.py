"""Orders larger than an SQS message through POST /webhooks/orders: the body is kept in chunks of
the table and the queue carries a claim check, which the event processor resolves (decision
148). A 2,000-line order with long product names and its 20 refunds, on the embedded
endpoint, through the real handlers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from infra.local.poller import sqs_event
from tests.conftest import StackHandle
from tests.support import order_paid, webhook_event
from tests.support.large_orders import large_order_events, total_paid

WEBHOOK = "OrderWebhookFunction"
PROCESSOR = "EventProcessorFunction"
LINES = 2_000
REFUNDS = 20
PAID_AT = datetime(2026, 11, 11, 0, 5, tzinfo=UTC)


def _raw(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode()


def _post(stack: StackHandle, raw: bytes) -> tuple[int, dict[str, Any]]:
    response = stack.invoke(WEBHOOK, webhook_event(raw))
    return response["statusCode"], json.loads(response["body"])


def _process(stack: StackHandle, messages: list[dict[str, Any]]) -> dict[str, Any]:
    arn = stack.resolver.attributes[("EventsQueue", "Arn")]
    answer: dict[str, Any] = stack.invoke(PROCESSOR, sqs_event(messages, arn, stack.config.region))
    return answer


def _chunks(stack: StackHandle) -> list[dict[str, Any]]:
    return sorted(
        (item for item in stack.table_items() if item["kind"] == "event_chunk"), key=lambda item: item["sk"]
    )


def _large_paid() -> dict[str, Any]:
    return large_order_events("O-big", LINES, REFUNDS, PAID_AT, names=True)[0]


def test_a_two_thousand_line_order_and_twenty_refunds_come_through_the_webhook(stack: StackHandle) -> None:
    from incentives.events.intake import CHUNK_BYTES, SQS_MESSAGE_BYTES
    from incentives.storage.table import MAX_ITEM_BYTES, item_size

    paid, *refunds = large_order_events("O-big", LINES, REFUNDS, PAID_AT, names=True)
    raw = _raw(paid)
    assert _post(stack, raw) == (202, {"event_id": "paid-O-big", "type": "order.paid", "status": "accepted"})
    [message] = stack.drain()
    assert len(message["Body"].encode()) < 1024  # the claim check, not the event
    check = json.loads(message["Body"])["claim_check"]
    assert check["event_id"] == "paid-O-big" and check["body_bytes"] == len(raw)
    chunks = _chunks(stack)
    assert len(chunks) == check["chunks"] == -(-len(raw) // CHUNK_BYTES)
    assert "".join(chunk["body"] for chunk in chunks).encode() == raw
    assert max(item_size(chunk) for chunk in chunks) < MAX_ITEM_BYTES
    [kept] = [item for item in stack.table_items() if item["kind"] == "raw_event"]
    assert "body" not in kept and kept["body_chunks"] == len(chunks) and kept["body_bytes"] == len(raw)
    assert _process(stack, [message]) == {"batchItemFailures": []}

    for refund in refunds:
        assert _post(stack, _raw(refund))[0] == 202
    messages = stack.drain()
    assert len(messages) == REFUNDS
    assert all(
        len(m["Body"].encode()) <= SQS_MESSAGE_BYTES and "event" in json.loads(m["Body"]) for m in messages
    )
    for start in range(0, REFUNDS, 10):
        assert _process(stack, messages[start : start + 10]) == {"batchItemFailures": []}

    order = stack.order("O-big")
    assert order is not None
    assert order["paid_fen"] == order["refunded_fen"] == total_paid(LINES)
    assert order["version"] == 1 + REFUNDS
    assert len(order["doc"]["applied_event_ids"]) == 1 + REFUNDS


def test_a_body_at_the_cap_is_accepted_and_kept_in_chunks(stack: StackHandle) -> None:
    """Ignored fields make the body large, not the event: the message is the event itself."""
    from incentives.events.intake import MAX_BODY_BYTES

    body = order_paid("O-padded")
    body["data"]["note"] = ""
    body["data"]["note"] = "x" * (MAX_BODY_BYTES - len(_raw(body)))
    raw = _raw(body)
    assert len(raw) == MAX_BODY_BYTES
    assert _post(stack, raw)[0] == 202
    [message] = stack.drain()
    assert json.loads(message["Body"])["event"]["data"]["order_id"] == "O-padded"
    assert "".join(chunk["body"] for chunk in _chunks(stack)).encode() == raw
    assert _process(stack, [message]) == {"batchItemFailures": []}
    assert stack.order("O-padded") is not None


def test_a_body_just_over_the_cap_is_413_naming_the_body_and_changes_nothing(stack: StackHandle) -> None:
    from incentives.events.intake import MAX_BODY_BYTES

    body = order_paid("O-over")
    body["data"]["note"] = ""
    body["data"]["note"] = "x" * (MAX_BODY_BYTES + 1 - len(_raw(body)))
    status, answer = _post(stack, _raw(body))
    assert status == 413
    assert answer["error"]["field"] == "body"
    assert str(MAX_BODY_BYTES) in answer["error"]["message"]
    assert stack.table_items() == [] and stack.drain() == []


def test_a_retried_call_writes_no_second_set_of_chunks(
    stack: StackHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chunks were written, the queue call failed: the sender's retry writes the same items,
    and the order is applied once however many claim checks arrive."""
    from incentives.runtime import wiring

    queue = wiring.event_queue()
    real_send = queue.send
    monkeypatch.setattr(queue, "send", lambda events: (_ for _ in ()).throw(ConnectionError("queue down")))
    raw = _raw(_large_paid())
    with pytest.raises(ConnectionError):
        stack.invoke(WEBHOOK, webhook_event(raw))
    first = _chunks(stack)
    assert first and stack.drain() == []
    monkeypatch.setattr(queue, "send", real_send)
    assert _post(stack, raw)[0] == 202
    assert _post(stack, raw)[0] == 202  # a duplicate delivery on top
    again = _chunks(stack)
    assert [(c["sk"], c["body"]) for c in again] == [(c["sk"], c["body"]) for c in first]
    assert len([item for item in stack.table_items() if item["kind"] == "raw_event"]) == 1
    messages = stack.drain()
    assert len(messages) == 2
    assert _process(stack, messages) == {"batchItemFailures": []}
    order = stack.order("O-big")
    assert order is not None and order["version"] == 1 and order["paid_fen"] == total_paid(LINES)


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_a_damaged_chunk_fails_the_message_loudly(stack: StackHandle, damage: str) -> None:
    assert _post(stack, _raw(_large_paid()))[0] == 202
    chunk = _chunks(stack)[1]
    dynamodb, table = stack.client("dynamodb"), stack.ref("IncentivesTable")
    if damage == "corrupt":
        from incentives.storage.dynamo import to_item

        altered = dict(chunk, body=chunk["body"].replace("L0", "L9", 1))
        dynamodb.put_item(TableName=table, Item=to_item(altered))
    else:
        dynamodb.delete_item(TableName=table, Key={"pk": {"S": chunk["pk"]}, "sk": {"S": chunk["sk"]}})
    [failure] = stack.feed(PROCESSOR, "EventsQueue")  # the batch's only record failed
    assert isinstance(failure, Exception)
    assert "ClaimCheckFailed: claim check of event paid-O-big" in str(failure)
    assert stack.order("O-big") is None
    [kept] = stack.drain()
    assert "claim_check" in json.loads(kept["Body"])
