"""Local function instances: each serves one invocation at a time, as on Lambda."""

from __future__ import annotations

import json
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from infra.local.config import LocalConfig
from infra.local.lambdas import Functions
from infra.local.template import FunctionSpec, Stack
from tests.support import api_event

HANDLER = '''
import threading

running = []
"""The invocations this instance is serving now (module state, like a resolver's current event)."""


def handler(event, context):
    running.append(context.aws_request_id)
    together = event.get("together")
    if together is not None:
        together.wait()  # every invocation of the test is inside a handler now
    alone = running == [context.aws_request_id]
    if together is not None:
        together.wait()  # nobody leaves before everyone has looked
    release = event.get("release")
    if release is not None:
        event["entered"].release()
        release.wait()
    running.remove(context.aws_request_id)
    return {"instance": __name__, "alone": alone}
'''


API_HANDLER = """
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

app = APIGatewayRestResolver()


@app.get("/who")
def who():
    before = app.current_event.get_query_string_value("name")
    app.current_event.raw_event["together"].wait()  # every request has been handed to a resolver
    return {"before": before, "after": app.current_event.get_query_string_value("name")}


def handler(event, context):
    return app.resolve(event, context)
"""


def _functions(
    tmp_path: Path, concurrency: int, source: str = HANDLER, count: int = 1
) -> tuple[Functions, list[str]]:
    (tmp_path / "app.py").write_text(source, encoding="utf-8")
    names = [f"Probe{uuid.uuid4().hex[:8]}Function" for _ in range(count)]
    specs = {name: FunctionSpec(name, tmp_path, "app.handler", 30, 128, {}, []) for name in names}
    stack = Stack({"Resources": {}}, specs, [], [], [])
    return Functions(stack, "ap-southeast-1", concurrency), names


def test_concurrent_invocations_of_one_function_never_share_an_instance(tmp_path: Path) -> None:
    functions, [name] = _functions(tmp_path, concurrency=4)
    together = threading.Barrier(4, timeout=60)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: functions.invoke(name, {"together": together}), range(4)))
    assert all(answer["alone"] for answer in answers)
    assert len({answer["instance"] for answer in answers}) == 4


def test_an_instance_is_loaded_on_first_use_then_kept_warm(tmp_path: Path) -> None:
    functions, [name] = _functions(tmp_path, concurrency=4)
    assert not [module for module in sys.modules if name in module]
    first = functions.invoke(name, {})
    second = functions.invoke(name, {})
    assert first["instance"] == second["instance"]
    assert [module for module in sys.modules if name in module] == [first["instance"]]


def test_when_every_instance_is_busy_an_invocation_waits_for_one(tmp_path: Path) -> None:
    functions, [name] = _functions(tmp_path, concurrency=2)
    entered, release = threading.Semaphore(0), threading.Event()
    event: dict[str, Any] = {"entered": entered, "release": release}
    with ThreadPoolExecutor(max_workers=3) as pool:
        busy = [pool.submit(functions.invoke, name, event) for _ in range(2)]
        for _ in busy:
            assert entered.acquire(timeout=60)
        waiting = pool.submit(functions.invoke, name, event)  # both instances are busy
        release.set()
        answers = [future.result(timeout=60) for future in [*busy, waiting]]
    assert all(answer["alone"] for answer in answers)
    assert len({answer["instance"] for answer in answers}) == 2


@pytest.mark.parametrize("functions_count", [1, 2], ids=["one function", "two functions"])
def test_concurrent_requests_each_read_their_own_through_powertools(
    tmp_path: Path, functions_count: int
) -> None:
    functions, names = _functions(tmp_path, concurrency=4, source=API_HANDLER, count=functions_count)
    together = threading.Barrier(4, timeout=60)

    def ask(n: int) -> dict[str, Any]:
        event = {**api_event("GET", "/who", query={"name": [f"caller-{n}"]}), "together": together}
        answer: dict[str, Any] = functions.invoke(names[n % functions_count], event)
        assert answer["statusCode"] == 200, answer
        return {"asked": f"caller-{n}", **json.loads(answer["body"])}

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(ask, range(4)))
    assert [(a["before"], a["after"]) for a in answers] == [(a["asked"], a["asked"]) for a in answers]


@pytest.mark.parametrize("value", ["0", "-1", "four", ""])
def test_the_instance_count_must_be_a_positive_whole_number(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("LOCAL_FUNCTION_CONCURRENCY", value)
    with pytest.raises(ValueError, match="LOCAL_FUNCTION_CONCURRENCY"):
        LocalConfig.from_env()


SHIPPED_MODULE_HANDLER = """
from area import FOLDER, router


def handler(event, context):
    together = event.get("together")
    if together is not None:
        together.wait()  # both invocations are inside a handler: two instances
    return {"router": id(router), "folder": FOLDER}
"""


def _function_with_own_module(folder: Path) -> tuple[Functions, str]:
    """A function whose handler imports ``area``, a module it ships in its own folder."""
    folder.mkdir()
    (folder / "area.py").write_text(f"FOLDER = {folder.name!r}\nrouter = object()\n", encoding="utf-8")
    (folder / "app.py").write_text(SHIPPED_MODULE_HANDLER, encoding="utf-8")
    name = f"Probe{uuid.uuid4().hex[:8]}Function"
    spec = FunctionSpec(name, folder, "app.handler", 30, 128, {}, [])
    return Functions(Stack({"Resources": {}}, {name: spec}, [], [], []), "ap-southeast-1", 2), name


def test_a_function_imports_its_own_modules_and_each_instance_has_its_own(tmp_path: Path) -> None:
    """As on Lambda, where each instance is a process: the router one instance's resolver
    includes is not another instance's, and two functions may ship modules of one name."""
    functions, name = _function_with_own_module(tmp_path / "first")
    others, other = _function_with_own_module(tmp_path / "second")
    together = threading.Barrier(2, timeout=60)
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: functions.invoke(name, {"together": together}), range(2)))
    assert [answer["folder"] for answer in answers] == ["first", "first"]
    assert answers[0]["router"] != answers[1]["router"]
    assert others.invoke(other, {})["folder"] == "second"
    assert "area" not in sys.modules
