"""POST /webhooks/orders against the template's resources on moto (SPEC §3.2, issue "Done when")."""

import json
import time
from typing import Any

import pytest

from tests.conftest import StackHandle
from tests.support import order_paid, sample_body, signed_headers, webhook_event

WEBHOOK = "OrderWebhookFunction"


def _post(stack: StackHandle, body: Any, **signing: Any) -> tuple[int, dict[str, Any]]:
    response = stack.invoke(WEBHOOK, webhook_event(body, **signing))
    return response["statusCode"], json.loads(response["body"])


def _nothing_changed(stack: StackHandle) -> None:
    assert stack.table_items() == []
    assert stack.drain() == []


def test_a_signed_event_is_kept_raw_and_queued(stack: StackHandle) -> None:
    body = sample_body("order_paid")
    status, answer = _post(stack, body)
    assert status == 202
    assert answer == {"event_id": body["event_id"], "type": "order.paid", "status": "accepted"}
    [raw] = stack.table_items()
    assert raw["pk"] == f"T#ww-local-corp#EVENT#{body['event_id']}"
    assert json.loads(raw["body"]) == body
    [message] = stack.drain()
    queued = json.loads(message["Body"])
    assert queued["corp_id"] == "ww-local-corp"
    assert queued["event"]["data"]["order_id"] == body["data"]["order_id"]


def test_a_bad_signature_is_401_and_changes_nothing(stack: StackHandle) -> None:
    status, answer = _post(stack, order_paid(), secret="not-the-secret")
    assert status == 401
    assert answer["error"]["field"] == "X-Signature"
    _nothing_changed(stack)


def test_a_stale_timestamp_is_401_and_changes_nothing(stack: StackHandle) -> None:
    status, answer = _post(stack, order_paid(), timestamp=int(time.time()) - 301)
    assert status == 401
    assert answer["error"]["field"] == "X-Timestamp"
    _nothing_changed(stack)


def test_an_unknown_tenant_is_401(stack: StackHandle) -> None:
    status, answer = _post(stack, order_paid(), corp_id="ww-someone-else")
    assert status == 401
    assert answer["error"]["field"] == "X-Corp-Id"
    _nothing_changed(stack)


def test_a_missing_field_is_400_naming_it_and_changes_nothing(stack: StackHandle) -> None:
    body = order_paid()
    del body["data"]["store_id"]
    status, answer = _post(stack, body)
    assert status == 400
    assert answer["error"]["field"] == "data.store_id"
    assert "data.store_id" in answer["error"]["message"]
    _nothing_changed(stack)


def test_an_oversized_body_is_413_and_changes_nothing(stack: StackHandle) -> None:
    from incentives.events.intake import MAX_BODY_BYTES

    body = order_paid()
    body["data"]["padding"] = "x" * MAX_BODY_BYTES
    status, _ = _post(stack, body)
    assert status == 413
    _nothing_changed(stack)


def test_a_duplicate_gets_the_same_answer_and_no_second_effect(stack: StackHandle) -> None:
    body = order_paid("O-dup")
    first = stack.invoke(WEBHOOK, webhook_event(body))
    stack.process_queue()
    version = stack.order("O-dup")["version"]  # type: ignore[index]
    second = stack.invoke(WEBHOOK, webhook_event(body))
    assert second["statusCode"] == first["statusCode"] == 202
    assert second["body"] == first["body"]
    stack.process_queue()  # the repeat is queued again (at least once) and applied as a no-op
    assert stack.order("O-dup")["version"] == version  # type: ignore[index]
    assert len([i for i in stack.table_items() if i["kind"] == "raw_event"]) == 1


def test_the_same_event_id_with_another_body_is_409(stack: StackHandle) -> None:
    body = order_paid("O-1", event_id="evt-shared")
    assert _post(stack, body)[0] == 202
    stack.drain()
    other = order_paid("O-2", event_id="evt-shared")
    status, answer = _post(stack, other)
    assert status == 409
    assert answer["error"]["field"] == "event_id"
    [raw] = stack.table_items()
    assert json.loads(raw["body"])["data"]["order_id"] == "O-1"
    assert stack.drain() == []


def test_a_crash_before_enqueueing_loses_nothing_on_retry(
    stack: StackHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The raw event was kept, the queue call failed: the sender's retry enqueues it."""
    from incentives.runtime import wiring

    queue = wiring.event_queue()
    real_send = queue.send
    monkeypatch.setattr(queue, "send", lambda events: (_ for _ in ()).throw(ConnectionError("queue down")))
    body = order_paid("O-crash")
    with pytest.raises(ConnectionError):
        stack.invoke(WEBHOOK, webhook_event(body))
    assert len(stack.table_items()) == 1 and stack.drain() == []
    monkeypatch.setattr(queue, "send", real_send)
    status, _ = _post(stack, body)
    assert status == 202
    stack.process_queue()
    assert stack.order("O-crash")["status"] == "paid"  # type: ignore[index]


def test_the_corp_header_defaults_to_the_deployment_tenant(stack: StackHandle) -> None:
    raw = json.dumps(order_paid("O-default")).encode()
    status, _ = _post(stack, raw, headers=signed_headers(raw, corp_id=None))
    assert status == 202
