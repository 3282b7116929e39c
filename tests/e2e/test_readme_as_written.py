"""The README's runnable command blocks, run with bash as a reader would, against the stack.

A block between ``<!-- runnable:start NAME -->`` and ``<!-- runnable:end -->`` must run as shown
on a fresh clone with ``make run`` going: it reads the documented port variables
(``${LOCAL_API_PORT:-3000}`` …), which point it at this session's stack. Every ``curl`` in it
must answer 2xx, except a call that prints its status (``-w '%{http_code}'``), whose status the
test checks. Blocks run in README order, as a reader goes through them.
"""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest
import requests

from tests.e2e.conftest import RunningStack
from tests.support import ROOT, token_for

pytestmark = pytest.mark.e2e

BLOCK = re.compile(r"<!-- runnable:start (\S+) -->\s*```bash\n(.*?)```\s*<!-- runnable:end -->", re.S)

# Fails the block on a non-2xx answer, unless the call prints its status for the reader to see;
# ends each answer with a newline, so that each printed status is a line of its own.
STRICT_CURL = """set -euo pipefail
curl() {
  case "$*" in
    *"%{http_code}"*) command curl "$@" ;;
    *) command curl --fail-with-body "$@" ;;
  esac
  echo
}
"""

EXPECTED = {
    "webhook",
    "wecom-sandbox",
    "guide-incentives",
    "affiliates",
    "levels",
    "level-rules",
    "tokens",
    "sign-in",
    "payments-sandbox",
    "wechat-store",
    "subsidy",
}


def _blocks() -> list[tuple[str, str]]:
    return BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_readme_marks_its_runnable_blocks() -> None:
    names = [name for name, _ in _blocks()]
    assert len(names) == len(set(names)), names
    assert set(names) >= EXPECTED, f"missing: {EXPECTED - set(names)}"


def _run(stack: RunningStack, body: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", STRICT_CURL + body],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _codes(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if re.fullmatch(r"\d{3}", line)]


def _check_webhook(stack: RunningStack, stdout: str) -> None:
    answers = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert [answer["status"] for answer in answers] == ["accepted", "accepted"], stdout
    assert _codes(stdout) == ["401"], stdout
    stack.wait_for(lambda: stack.order("SO-README-1"), what="README order stored")


def _check_wecom_sandbox(stack: RunningStack, stdout: str) -> None:
    # `?q=静安` is sent as raw UTF-8 by curl: the gateway must decode it as API Gateway does.
    [outlets] = [json.loads(line) for line in stdout.splitlines() if line.startswith("[")]
    assert [outlet["outlet_id"] for outlet in outlets] == ["21"], stdout


def _check_guide_incentives(stack: RunningStack, stdout: str) -> None:
    assert _codes(stdout) == ["200"], stdout
    admin = {"Authorization": f"Bearer {token_for('admin')}"}

    def rewarded() -> list[dict[str, Any]]:
        answer = requests.get(
            f"{stack.api_url}/admin/guide-incentives/records",
            params={"outlet_id": "21"},
            headers=admin,
            timeout=10,
        ).json()
        return [
            r for r in answer["items"] if r["customer_id"] == "oUnion-guide-demo" and r["amount_fen"] == 500
        ]

    stack.wait_for(rewarded, what="the new customer's reward")


def _check_affiliates(stack: RunningStack, stdout: str) -> None:
    assert _codes(stdout) == ["200", "409"], stdout


def _check_wechat_store(stack: RunningStack, stdout: str) -> None:
    import importlib.util

    [flows] = [
        json.loads(line)
        for line in stdout.splitlines()
        if re.match(r'\{"day": ?"[^"]+", ?"flows": ?\[', line)
    ]
    assert sorted(flow["amount_fen"] for flow in flows["flows"]) == [200, 200, 1000, 1000, 1000], flows
    with_subsidy = importlib.util.find_spec("incentives.subsidy") is not None
    assert _codes(stdout)[-1] == "200", stdout
    [report] = [json.loads(line) for line in stdout.splitlines() if '"expectations_available"' in line]
    assert report["expectations_available"] is with_subsidy, report
    if with_subsidy:
        assert [row["bucket"] for row in report["rows"]].count("differs") == 1, report


def _check_subsidy(stack: RunningStack, stdout: str) -> None:
    assert _codes(stdout)[:1] in (["200"], ["409"]), stdout  # 409 when the block runs again
    reports = [json.loads(line) for line in stdout.splitlines() if line.startswith('{"rows"')]
    assert reports, stdout
    figures = {
        key: reports[-1][key] for key in ("orders", "settled_fen", "fee_saved_fen", "growth_cards_fen")
    }
    assert figures == {"orders": 4, "settled_fen": 63_000, "fee_saved_fen": 1_520, "growth_cards_fen": 1_332}
    assert "readme-2027-07,live_reservation,2027-07-02,1,30000,0,1200,0,0" in stdout


CHECKS = {
    "webhook": _check_webhook,
    "wecom-sandbox": _check_wecom_sandbox,
    "guide-incentives": _check_guide_incentives,
    "affiliates": _check_affiliates,
    "wechat-store": _check_wechat_store,
    "subsidy": _check_subsidy,
}


@pytest.mark.parametrize(("name", "body"), _blocks(), ids=[name for name, _ in _blocks()])
def test_a_runnable_readme_block_runs_as_shown(running_stack: RunningStack, name: str, body: str) -> None:
    result = _run(running_stack, body)
    stack_tail = "\n".join(running_stack.output[-60:])
    assert result.returncode == 0, (
        f"{name} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}\n"
        f"the stack's last lines:\n{stack_tail}"
    )
    check = CHECKS.get(name)
    if check is not None:
        check(running_stack, result.stdout)
