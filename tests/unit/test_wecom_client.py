"""The WeCom client: token cache and refresh, token-error retry, frequency backoff, errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incentives.api.errors import error_response
from incentives.core.clock import FixedClock
from incentives.wecom.client import MemoryTokenCache, WeComApiError, WeComClient, WeComUnavailable
from incentives.wecom.crypto import CallbackCrypto
from infra.local.sandboxes.wecom import WeComSandbox
from tests.support.wecom import in_process

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def _sandbox() -> WeComSandbox:
    return WeComSandbox("ww-1", "app-secret", CallbackCrypto("t", "a" * 43, "ww-1"), "http://127.0.0.1:9/cb")


def _client(
    sandbox: WeComSandbox,
    clock: FixedClock,
    cache: MemoryTokenCache | None = None,
    slept: list[float] | None = None,
) -> WeComClient:
    return WeComClient(
        "ww-1",
        "app-secret",
        cache or MemoryTokenCache(),
        clock,
        transport=in_process(sandbox),
        sleep=(slept.append if slept is not None else lambda _: None),
    )


def test_the_token_is_fetched_once_and_reused() -> None:
    sandbox, clock = _sandbox(), FixedClock(NOW)
    client = _client(sandbox, clock)
    client.departments()
    client.departments()
    assert sandbox.calls.count("/cgi-bin/gettoken") == 1


def test_the_token_is_refreshed_five_minutes_before_it_expires() -> None:
    sandbox, clock = _sandbox(), FixedClock(NOW)
    client = _client(sandbox, clock)
    client.departments()
    clock.advance(timedelta(seconds=7200 - 301))
    client.departments()
    assert sandbox.calls.count("/cgi-bin/gettoken") == 1
    clock.advance(timedelta(seconds=2))
    client.departments()
    assert sandbox.calls.count("/cgi-bin/gettoken") == 2


@pytest.mark.parametrize("code", [40001, 40014, 42001])
def test_a_rejected_token_is_replaced_and_the_call_retried_once(code: int) -> None:
    sandbox, clock = _sandbox(), FixedClock(NOW)
    client = _client(sandbox, clock)
    client.departments()
    sandbox.faults.append(code)
    assert [d["id"] for d in client.departments()][:2] == [1, 2]
    assert sandbox.calls.count("/cgi-bin/gettoken") == 2
    sandbox.faults.extend([code, code])
    with pytest.raises(WeComApiError) as raised:
        client.departments()
    assert raised.value.errcode == code


def test_the_frequency_limit_backs_off_and_retries() -> None:
    sandbox, clock, slept = _sandbox(), FixedClock(NOW), []
    client = _client(sandbox, clock, slept=slept)
    sandbox.faults.extend([45009, 45009])
    assert client.departments()
    assert slept == [0.5, 1.0]
    sandbox.faults.extend([45009] * 4)
    with pytest.raises(WeComApiError) as raised:
        client.departments()
    assert raised.value.errcode == 45009


@pytest.mark.parametrize(
    ("faults", "status", "retry_after", "meaning"),
    [
        ([-1], 503, "5", "busy"),
        ([45009] * 4, 503, "60", "frequency limit"),
        ([60011], 502, None, "visible scope"),
        ([40098], 502, None, "sandbox fault 40098"),
    ],
)
def test_a_wecom_refusal_is_answered_as_a_wecom_error(
    faults: list[int], status: int, retry_after: str | None, meaning: str
) -> None:
    """-1 and a 45009 that outlasts the backoff can succeed later (503, Retry-After); 60011 and
    codes without a known meaning cannot (502). The answer names the errcode and what it means."""
    sandbox = _sandbox()
    client = _client(sandbox, FixedClock(NOW))
    sandbox.faults.extend(faults)
    with pytest.raises(WeComApiError) as raised:
        client.add_contact_way("outlet-21", ["zhangwei"])
    assert isinstance(raised.value, WeComUnavailable) is (status == 503)
    response = error_response(raised.value)
    body = json.loads(response.body or "{}")["error"]
    assert response.status_code == status
    assert (response.headers or {}).get("Retry-After") == retry_after
    assert body["code"] == "wecom_error" and body["errcode"] == faults[0]
    assert meaning in body["message"] and body["api"] == "/cgi-bin/externalcontact/add_contact_way"
    assert sandbox.contact_ways == {}


def test_errors_carry_errcode_and_errmsg() -> None:
    client = _client(_sandbox(), FixedClock(NOW))
    with pytest.raises(WeComApiError) as raised:
        client.external_contact("wm-nobody")
    assert raised.value.errcode == 40096 and "invalid external userid" in str(raised.value)


def test_a_cache_shared_by_two_instances_shares_the_token() -> None:
    sandbox, clock, cache = _sandbox(), FixedClock(NOW), MemoryTokenCache()
    _client(sandbox, clock, cache).departments()
    _client(sandbox, clock, cache).departments()
    assert sandbox.calls.count("/cgi-bin/gettoken") == 1


def test_welcome_codes_are_single_use_and_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = _sandbox()
    client = _client(sandbox, FixedClock(NOW))
    way = client.add_contact_way("outlet-21", ["zhangwei"])
    sandbox.deliver = lambda message, times=1: [200] * times  # type: ignore[method-assign]
    scanned: dict[str, Any] = sandbox.scan({"config_id": way["config_id"], "unionid": "u-1"})
    client.send_welcome_msg(scanned["welcome_code"], "您好")
    with pytest.raises(WeComApiError) as raised:
        client.send_welcome_msg(scanned["welcome_code"], "您好")
    assert raised.value.errcode == 41051
    assert len(sandbox.welcome_sent) == 1


def test_member_ids_come_in_cursor_pages_that_cover_every_pair_once() -> None:
    sandbox, clock = _sandbox(), FixedClock(NOW)
    client = _client(sandbox, clock)
    pairs, cursor, pages = [], "", 0
    while True:
        page, cursor = client.member_ids(cursor, limit=2)
        pairs.extend((entry["userid"], entry["department"]) for entry in page)
        pages += 1
        if not cursor:
            break
    expected = sorted((u["userid"], d) for u in sandbox.users.values() for d in u["department"])
    assert sorted(pairs) == expected and len(pairs) == len(set(pairs))
    assert pages == -(-len(expected) // 2) == sandbox.calls.count("/cgi-bin/user/list_id")
    with pytest.raises(WeComApiError) as refused:
        client.member_ids("", limit=10_001)
    assert refused.value.errcode == 40058


def test_one_department_is_read_and_a_deleted_one_is_60123() -> None:
    sandbox, clock = _sandbox(), FixedClock(NOW)
    client = _client(sandbox, clock)
    assert client.department("22") == {"id": 22, "name": "上海徐汇店", "parentid": 2, "order": 2}
    with pytest.raises(WeComApiError) as missing:
        client.department("404")
    assert missing.value.errcode == 60123
