"""Guide reward records page through the index on the embedded stack: the console's across the 16
shards of the tenant's listing, a guide's through their own partition; full pages newest first,
each record once, the operator's scope and the guide's own kept; the overview from the maintained
totals equals the one read from every record; a cursor the listing did not give is a 400."""

from __future__ import annotations

import json
from typing import Any

from incentives.runtime import wiring
from incentives.storage import keys
from incentives.storage.table import Update
from tests.conftest import StackHandle
from tests.integration.test_console_scope import EAST, set_nodes
from tests.integration.test_guide_incentives import ADMIN, GUIDE, _behavior, _records, _rule
from tests.integration.test_org_tags_guides import _synced
from tests.support import api_event, token_for

VISITS = [
    (f"g-{n}", "zhangwei" if n % 2 else "chenjing", f"2026-11-{n + 1:02d}T10:00:00+08:00") for n in range(10)
]
"""Store visits, one a day: zhangwei (dept 2) the odd ones, chenjing (dept 3) the even ones."""


def _invoke(
    stack: StackHandle, function: str, resource: str, token: str, **query: str
) -> tuple[int, Any, str | None]:
    """(status, body, Next-Cursor header) of one GET."""
    event = api_event("GET", resource, token=token, query={k: [v] for k, v in query.items()} or None)
    response = stack.invoke(function, event)
    headers = {name.lower(): value for name, value in (response.get("headers") or {}).items()}
    multi = {name.lower(): values for name, values in (response.get("multiValueHeaders") or {}).items()}
    following = headers.get("next-cursor") or (multi.get("next-cursor") or [None])[0]
    return response["statusCode"], json.loads(response["body"]), following


def _console_pages(stack: StackHandle, token: str, limit: int, **query: str) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    cursor = None
    while len(pages) < 50:
        wanted = {**query, "limit": str(limit), **({"cursor": cursor} if cursor else {})}
        status, page, _ = _invoke(stack, ADMIN, "/admin/guide-incentives/records", token, **wanted)
        assert status == 200, page
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("the listing never ended")


def _seen(pages: list[dict[str, Any]]) -> list[str]:
    return [record["source_event_id"] for page in pages for record in page["items"]]


def _granted(stack: StackHandle) -> None:
    _synced(stack)
    set_nodes(stack, "2", "3")
    _rule(stack, limit=None)
    for event_id, guide, at in VISITS:
        _behavior(stack, event_id, at, guide=guide)


def test_console_records_page_across_shards_with_the_maintained_overview(stack: StackHandle) -> None:
    _granted(stack)
    newest_first = [event_id for event_id, _, _ in reversed(VISITS)]
    reward_ids = [r["reward_id"] for r in _records(stack, limit="50")["items"]]
    assert len({keys.listing_partition("", reward_id) for reward_id in reward_ids}) > 2  # several shards
    for limit in (1, 3, 50):
        pages = _console_pages(stack, token_for("admin"), limit)
        assert _seen(pages) == newest_first  # each once, newest first
        assert all(len(page["items"]) == limit for page in pages[:-1])  # full pages
    counters = [i for i in stack.table_items() if "#GUIDE_REWARD_TOTALS#S" in i["pk"]]
    assert sum(int(i["records"]) for i in counters) == 10  # the overview below is read from these
    maintained = _records(stack)["overview"]
    read = _records(stack, to="2030-01-01T00:00:00Z")["overview"]  # not a whole day: read from the records
    assert maintained == read
    assert maintained["records"] == 10 and maintained["total_paid_fen"] == 2_000
    extra = Update({"pk": counters[0]["pk"], "sk": counters[0]["sk"]}, add={"records": 1})
    wiring.table().transact([extra])  # a counter moved by hand: the unfiltered overview shows it
    assert _records(stack)["overview"]["records"] == 11
    assert _records(stack, to="2030-01-01T00:00:00Z")["overview"]["records"] == 10
    wiring.table().transact([Update(extra.key, add={"records": -1})])
    whole_days = _records(stack, **{"from": "2026-11-03T00:00:00.000Z", "to": "2026-11-05T23:59:59.999Z"})
    assert whole_days["overview"]["records"] == 3 and whole_days["overview"]["total_paid_fen"] == 600
    assert [r["source_event_id"] for r in whole_days["items"]] == ["g-4", "g-3", "g-2"]  # key bounds
    east = _console_pages(stack, EAST, 2)  # an operator of dept 2: zhangwei's only, pages still full
    assert _seen(east) == [e for e, guide, _ in reversed(VISITS) if guide == "zhangwei"]
    assert all(len(page["items"]) == 2 for page in east[:-1])
    assert east[0]["overview"]["records"] == 5
    first = _records(stack, limit="2")
    status, body, _ = _invoke(
        stack, ADMIN, "/admin/guide-incentives/records", token_for("admin"), cursor="bm90IG91cnM"
    )
    assert status == 400 and body["error"]["field"] == "cursor"
    status, body, _ = _invoke(
        stack,
        ADMIN,
        "/admin/guide-incentives/records",
        token_for("admin"),
        cursor=first["next_cursor"],
        to="2026-11-05T00:00:00Z",
    )
    assert status == 400 and body["error"]["field"] == "cursor"  # made with other bounds


def test_a_guide_pages_through_their_own_rewards_only(stack: StackHandle) -> None:
    _granted(stack)
    zhang, chen = token_for("guide", "zhangwei"), token_for("guide", "chenjing")
    mine = [event_id for event_id, guide, _ in reversed(VISITS) if guide == "zhangwei"]
    for limit in (1, 2, 50):
        pages, cursor = [], None
        while len(pages) < 20:
            query = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
            status, page, cursor = _invoke(stack, GUIDE, "/guide/rewards", zhang, **query)
            assert status == 200, page
            pages.append(page)
            if cursor is None:
                break
        assert [r["source_event_id"] for page in pages for r in page] == mine
        assert all(len(page) == limit for page in pages[:-1])
        assert all(r["guide_id"] == "zhangwei" for page in pages for r in page)
    status, _, cursor = _invoke(stack, GUIDE, "/guide/rewards", zhang, limit="2")
    assert status == 200 and cursor
    status, body, _ = _invoke(stack, GUIDE, "/guide/rewards", chen, cursor=cursor)  # another guide's
    assert status == 400 and body["error"]["field"] == "cursor"
    status, body, _ = _invoke(stack, GUIDE, "/guide/rewards", zhang, cursor="bm90IG91cnM")
    assert status == 400 and body["error"]["field"] == "cursor"
    status, none, _ = _invoke(stack, GUIDE, "/guide/rewards", zhang, type="new_customer")
    assert status == 200 and none == []
