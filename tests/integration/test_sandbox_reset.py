"""`POST /sandbox/reset` on any sandbox of the local stack gives all of them a clean slate."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from infra.local.__main__ import _start_sandboxes
from infra.local.config import LocalConfig
from tests.support import free_port


@pytest.fixture
def sandboxes(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for variable in (
        "LOCAL_PAYMENTS_PORT",
        "LOCAL_WECOM_PORT",
        "LOCAL_MINIPROGRAM_PORT",
        "LOCAL_STORE_PORT",
        "LOCAL_API_PORT",
    ):
        monkeypatch.setenv(variable, str(free_port()))
    started = _start_sandboxes(LocalConfig.from_env())
    by_kind = {type(sandbox).__name__: sandbox for sandbox in started}
    yield by_kind
    for sandbox in started:
        sandbox.stop()


@pytest.mark.parametrize(
    "reset_on", ["PaymentsSandboxServer", "WeComSandboxServer", "MiniProgramSandboxServer"]
)
def test_a_reset_on_any_sandbox_resets_every_sandbox_balances_included(
    sandboxes: dict[str, Any], reset_on: str
) -> None:
    payments, wecom = sandboxes["PaymentsSandboxServer"], sandboxes["WeComSandboxServer"]
    miniprogram = sandboxes["MiniProgramSandboxServer"]
    [mch_id] = payments.sandbox.merchants
    first_balance = payments.sandbox.merchants[mch_id].balance_fen
    assert first_balance > 0

    def post(server: Any, path: str, body: dict[str, Any]) -> None:
        answer = requests.post(f"{server.base_url}{path}", json=body, timeout=10)
        assert answer.status_code == 200, answer.text

    post(payments, "/sandbox/balance", {"mch_id": mch_id, "balance_fen": 0})
    post(payments, "/sandbox/settings", {"transfers_need_confirmation": False})
    post(payments, "/sandbox/faults", {"operation": "transfer", "faults": ["SYSTEMERROR"]})
    post(wecom, "/sandbox/wecom/departments", {"id": 99, "name": "新店", "parentid": 3})
    post(wecom, "/sandbox/wecom/faults", {"faults": [45009]})
    post(miniprogram, "/sandbox/miniprogram/code", {"openid": "o-reset"})
    post(miniprogram, "/sandbox/miniprogram/faults", {"faults": [45011]})
    assert payments.sandbox.merchants[mch_id].balance_fen == 0

    post(sandboxes[reset_on], "/sandbox/reset", {})

    assert payments.sandbox.merchants[mch_id].balance_fen == first_balance
    assert payments.sandbox.transfers_need_confirmation is True
    assert not any(payments.sandbox.faults.values())
    state = requests.get(f"{wecom.base_url}/sandbox/wecom/state", timeout=10).json()
    assert 99 not in wecom.sandbox.departments and not wecom.sandbox.faults, state
    assert requests.get(f"{miniprogram.base_url}/sandbox/miniprogram/state", timeout=10).json()["codes"] == []
    assert not miniprogram.sandbox.faults
