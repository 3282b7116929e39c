"""Operator scope on every console route (SPEC §4.2, seed 002 "Organization Management").

The route table below classifies every ``/admin`` route of template.yaml; a route missing from it
fails the test until someone decides what it is. For each route the test plays an operator of
dept 2 (华东, outlets 21 and 22), an operator of dept 3 (华南, outlet 31), an operator on both
data nodes, and an operator whose node was removed:

- scoped reads: dept 3's operator sees none of dept 2's lines, dept 2's operator sees them;
- tenant-wide reads (settings that belong to no department) carry no department's lines at all;
- scoped writes: a multi-node operator must name a data node of theirs that contains the target,
  an operator whose departments are no longer data nodes is refused, and a refusal changes nothing;
- admin-only writes and the affiliate console refuse every operator, whatever their nodes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from unittest import mock

import pytest

from incentives.core import clock
from infra.local.template import read_stack
from tests.conftest import StackHandle
from tests.integration.test_admin_api import _payouts
from tests.integration.test_org_tags_guides import _contact_way, _scan
from tests.support import api_event, sample_body, token_for, webhook_event

NOW = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
"""Noon in Shanghai: "this month" of the previews is November 2026 whenever the suite runs."""

ADMIN_API, AFFILIATE_ADMIN_API, GUIDE_API = (
    "AdminApiFunction",
    "AffiliateAdminApiFunction",
    "GuideApiFunction",
)
ADMIN = token_for("admin")
EAST = token_for("operator", "ops-east", dept_ids=("2",))
SOUTH = token_for("operator", "ops-south", dept_ids=("3",))
BOTH = token_for("operator", "ops-both", dept_ids=("2", "3"))
NOWHERE = token_for("operator", "ops-nowhere", dept_ids=("99",))
NO_DEPARTMENT = token_for("operator", "ops-none")


FUNCTION_OF = {(route.method, route.path): route.function for route in read_stack().routes}
"""Which function serves each route, as template.yaml says."""


def call(stack: StackHandle, method: str, path: str, token: str | None, **request: Any) -> tuple[int, Any]:
    """A console call as the gateway makes it, answered as of NOW."""
    function = FUNCTION_OF[(method, path)]
    body = request.pop("json", None)
    event = api_event(
        method, path, token=token, body=json.dumps(body) if body is not None else None, **request
    )
    with mock.patch.object(clock.SystemClock, "now", lambda self: NOW):
        response = stack.invoke(function, event)
    text = response["body"]
    return response["statusCode"], json.loads(text) if text[:1] in ("{", "[") else text


def set_nodes(stack: StackHandle, *nodes: str) -> None:
    status, body = call(
        stack,
        "PUT",
        "/admin/org/levels",
        ADMIN,
        json={"level_name": "零售公司", "node_dept_ids": list(nodes)},
    )
    assert status == 200, body


@dataclass
class World:
    """A synchronised org with lines in dept 2 and dept 3, and the ids a route needs."""

    stack: StackHandle
    rule_id: str = "new_customer"
    tag_id: str = "tt-none"
    group_id: str = "tg-none"
    payout_east: str = "none"
    payout_failed_east: str = "none"
    east_markers: set[str] = field(
        default_factory=lambda: {"2", "21", "22", "zhangwei", "lifang", "wangqiang"}
    )
    south_markers: set[str] = field(default_factory=lambda: {"3", "31", "chenjing"})

    def org(self) -> None:
        status, body = call(self.stack, "POST", "/admin/org/sync", ADMIN)
        assert status == 202 and body["state"] == "queued", body
        self.stack.process_queue()
        status, body = call(self.stack, "GET", "/admin/org/sync", ADMIN)
        assert status == 200 and body["result"]["outlets"] == 3, body
        set_nodes(self.stack, "2", "3")

    def rewards(self) -> None:
        """A custom rule and one occurrence each for zhangwei (21) and chenjing (31) this month."""
        status, rule = call(
            self.stack,
            "POST",
            "/admin/guide-incentives/rules",
            ADMIN,
            json={"name": "到店打卡", "behavior": "store_visit", "amount_fen": 200, "monthly_limit_fen": 500},
        )
        assert status == 200, rule
        self.rule_id = rule["rule_id"]
        for guide, day in (("zhangwei", "02"), ("chenjing", "03")):
            body = sample_body("customer_behavior")
            at = f"2026-11-{day}T10:00:00+08:00"
            body.update(event_id=f"visit-{guide}", occurred_at=at)
            body["data"].update(
                behavior="store_visit", occurred_at=at, guide_id=guide, customer_id=f"c-{guide}"
            )
            assert self.stack.invoke("OrderWebhookFunction", webhook_event(body))["statusCode"] == 202
        self.stack.process_queue()
        _, payouts = call(self.stack, "GET", "/admin/payouts", ADMIN)
        by_payee = {p["payee_id"]: p["payout_id"] for p in payouts["items"]}
        self.payout_east = by_payee["zhangwei"]
        self.east_markers.add(self.payout_east)
        self.south_markers.add(by_payee["chenjing"])
        _, records = call(self.stack, "GET", "/admin/guide-incentives/records", ADMIN)
        for record in records["items"]:
            (self.east_markers if record["guide_id"] == "zhangwei" else self.south_markers).add(
                record["reward_id"]
            )

    def failed_payout(self) -> None:
        """A WeCom Pay payout of zhangwei that failed (NOTENOUGH), for re-queueing."""
        [self.payout_failed_east] = _payouts(1, dept_path=("1", "2", "21"), owner="zhangwei")
        self.stack.payments.add_faults("pay", ["NOTENOUGH"])
        self.stack.feed("PayoutWorkerFunction", "PayoutQueue")
        self.east_markers.add(self.payout_failed_east)

    def customers(self) -> None:
        """A tagged customer of each subtree, through the QR codes and the guides' tagging."""
        status, created = call(
            self.stack, "POST", "/admin/tag-groups", ADMIN, json={"name": "等级", "tags": ["金卡"]}
        )
        assert status == 200, created
        self.tag_id = created[0]["tag_id"]
        self.group_id = created[0]["group_id"]
        for outlet, guide, unionid in (("21", "zhangwei", "oUnion-east"), ("31", "chenjing", "oUnion-south")):
            way = _contact_way(self.stack, outlet)
            _scan(self.stack, way["config_id"], unionid, userid=guide)
            status, marked = self.stack.api(
                GUIDE_API,
                "POST",
                "/guide/customers/{customer_id}/tags",
                token_for("guide", guide),
                path_parameters={"customer_id": unionid},
                json={"add": [self.tag_id]},
            )
            assert status == 200, marked
        self.east_markers.add("oUnion-east")
        self.south_markers.add("oUnion-south")


class Kind(Enum):
    SCOPED_READ = "scoped read: filtered to the caller's subtrees"
    TENANT_READ = "tenant-wide read: a setting that belongs to no department"
    PUBLIC = "public: the OpenAPI document, no tenant data"
    SCOPED_WRITE = "scoped write: data nodes decide"
    ADMIN_ONLY = "admin only"


Request = Callable[[World], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    kind: Kind
    request: Request = lambda world: {}
    needs: tuple[Callable[[World], None], ...] = ()
    why: str = ""
    """For admin-only routes and tenant-wide reads: why the route has no department scope."""


def _path(**parameters: str) -> Request:
    return lambda world: {"path_parameters": parameters}


def _subsidy_campaign(world: World) -> None:
    from tests.support.subsidy import SEED_CAMPAIGN_BODY

    status, body = call(world.stack, "POST", "/admin/subsidy/campaigns", ADMIN, json=SEED_CAMPAIGN_BODY)
    assert status == 200, body


def _subsidy_order(world: World) -> None:
    from tests.support.subsidy import SEED_ORDERS, store_paid_body

    assert (
        world.stack.invoke("OrderWebhookFunction", webhook_event(store_paid_body(SEED_ORDERS[0])))[
            "statusCode"
        ]
        == 202
    )
    world.stack.process_queue()


def _campaign_body() -> dict[str, Any]:
    from tests.support.subsidy import SEED_CAMPAIGN_BODY

    return dict(SEED_CAMPAIGN_BODY)


def _campaign_change() -> dict[str, Any]:
    return {**{k: v for k, v in _campaign_body().items() if k != "campaign_id"}, "version": 1}


SETTINGS_ONLY = "a tenant setting, no department owns it"
SUBSIDY = "the WeChat Store shop and its platform subsidy belong to no department (decision 128)"
AFFILIATES = "affiliates belong to no department (decision 40)"
STORE = "the WeChat Store and the platform's fees belong to the tenant, no department owns them"

ROUTES: dict[tuple[str, str], Case] = {
    ("GET", "/admin/swagger"): Case(Kind.PUBLIC),
    ("GET", "/admin/affiliates/swagger"): Case(Kind.PUBLIC),
    ("GET", "/admin/subsidy/swagger"): Case(Kind.PUBLIC),
    # --- platform subsidy (seed 004): operators read the tenant's figures, admins set campaigns
    ("GET", "/admin/subsidy/campaigns"): Case(Kind.TENANT_READ, needs=(_subsidy_campaign,), why=SUBSIDY),
    ("POST", "/admin/subsidy/campaigns"): Case(
        Kind.ADMIN_ONLY, lambda w: {"json": _campaign_body()}, why=SUBSIDY
    ),
    ("GET", "/admin/subsidy/campaigns/{campaign_id}"): Case(
        Kind.TENANT_READ, _path(campaign_id="wxstore-2026-07"), needs=(_subsidy_campaign,), why=SUBSIDY
    ),
    ("PUT", "/admin/subsidy/campaigns/{campaign_id}"): Case(
        Kind.ADMIN_ONLY,
        lambda w: {"path_parameters": {"campaign_id": "wxstore-2026-07"}, "json": _campaign_change()},
        needs=(_subsidy_campaign,),
        why=SUBSIDY,
    ),
    ("GET", "/admin/subsidy/report"): Case(Kind.TENANT_READ, why=SUBSIDY),
    ("GET", "/admin/subsidy/orders/{order_id}"): Case(
        Kind.TENANT_READ, _path(order_id="WXS-share"), needs=(_subsidy_campaign, _subsidy_order), why=SUBSIDY
    ),
    # --- payouts
    ("GET", "/admin/payouts"): Case(Kind.SCOPED_READ, needs=(World.rewards,)),
    ("GET", "/admin/payouts/{payout_id}"): Case(
        Kind.SCOPED_READ, lambda w: {"path_parameters": {"payout_id": w.payout_east}}, needs=(World.rewards,)
    ),
    ("POST", "/admin/payouts/{payout_id}/requeue"): Case(
        Kind.SCOPED_WRITE,
        lambda w: {"path_parameters": {"payout_id": w.payout_failed_east}, "json": {}},
        needs=(World.failed_payout,),
    ),
    # --- organization
    ("POST", "/admin/org/sync"): Case(Kind.ADMIN_ONLY, why="synchronises the whole tenant from WeCom"),
    ("GET", "/admin/org/sync"): Case(
        Kind.ADMIN_ONLY, why="the sync of the whole tenant: its progress and errors span every department"
    ),
    ("GET", "/admin/org/tree"): Case(Kind.SCOPED_READ),
    # --- sign-in
    ("GET", "/admin/sign-in/staff"): Case(
        Kind.ADMIN_ONLY, why="who signs in as admin or operator: the tenant's"
    ),
    ("PUT", "/admin/sign-in/staff"): Case(
        Kind.ADMIN_ONLY,
        lambda w: {"json": {"admins": ["boss"], "operators": []}},
        why="who signs in as admin or operator: the tenant's",
    ),
    ("GET", "/admin/outlets"): Case(Kind.SCOPED_READ),
    ("POST", "/admin/outlets/{outlet_id}/contact-way"): Case(
        Kind.SCOPED_WRITE,
        lambda w: {"path_parameters": {"outlet_id": "21"}, "json": {"welcome_message": "欢迎"}},
    ),
    ("PUT", "/admin/guides/{user_id}/welcome-message"): Case(
        Kind.SCOPED_WRITE, lambda w: {"path_parameters": {"user_id": "zhangwei"}, "json": {"text": "您好"}}
    ),
    ("GET", "/admin/org/levels"): Case(Kind.SCOPED_READ),
    ("PUT", "/admin/org/levels"): Case(
        Kind.ADMIN_ONLY,
        lambda w: {"json": {"level_name": "零售公司", "node_dept_ids": ["2", "3"]}},
        why="defines the data nodes themselves",
    ),
    ("POST", "/admin/org/levels/nodes"): Case(
        Kind.ADMIN_ONLY, lambda w: {"json": {"dept_id": "21"}}, why="defines the data nodes themselves"
    ),
    ("DELETE", "/admin/org/levels/nodes/{dept_id}"): Case(
        Kind.ADMIN_ONLY, _path(dept_id="2"), why="defines the data nodes themselves"
    ),
    ("GET", "/admin/guide-permissions"): Case(Kind.TENANT_READ, needs=(World.customers,), why=SETTINGS_ONLY),
    ("PUT", "/admin/guide-permissions"): Case(
        Kind.ADMIN_ONLY, lambda w: {"json": {"display_enabled": False}}, why=SETTINGS_ONLY
    ),
    # --- tags (one corp-wide library, seed 002)
    ("GET", "/admin/tags"): Case(
        Kind.TENANT_READ, needs=(World.customers,), why="the corp tag library is shared by all departments"
    ),
    ("POST", "/admin/tag-groups"): Case(
        Kind.ADMIN_ONLY, lambda w: {"json": {"name": "兴趣", "tags": ["户外"]}}, why="the corp tag library"
    ),
    ("PATCH", "/admin/tags/{tag_id}"): Case(
        Kind.ADMIN_ONLY,
        lambda w: {"path_parameters": {"tag_id": w.tag_id}, "json": {"name": "白金卡"}},
        why="the corp tag library",
    ),
    ("DELETE", "/admin/tags/{tag_id}"): Case(
        Kind.ADMIN_ONLY, lambda w: {"path_parameters": {"tag_id": w.tag_id}}, why="the corp tag library"
    ),
    ("POST", "/admin/tag-groups/{group_id}/tags"): Case(
        Kind.ADMIN_ONLY,
        lambda w: {"path_parameters": {"group_id": w.group_id}, "json": {"tags": ["银卡"]}},
        why="the corp tag library",
    ),
    ("PATCH", "/admin/tag-groups/{group_id}"): Case(
        Kind.ADMIN_ONLY,
        lambda w: {"path_parameters": {"group_id": w.group_id}, "json": {"name": "会员"}},
        why="the corp tag library",
    ),
    ("DELETE", "/admin/tag-groups/{group_id}"): Case(
        Kind.ADMIN_ONLY,
        lambda w: {"path_parameters": {"group_id": w.group_id}},
        why="the corp tag library",
    ),
    ("POST", "/admin/tags/import"): Case(Kind.ADMIN_ONLY, why="the corp tag library"),
    ("POST", "/admin/customers/segment"): Case(
        Kind.SCOPED_READ, lambda w: {"json": {"tag_ids": [w.tag_id]}}, needs=(World.customers,)
    ),
    # --- guide incentives (programs are the tenant's; their figures are scoped)
    ("GET", "/admin/guide-incentives/settings"): Case(
        Kind.TENANT_READ, needs=(World.rewards,), why=SETTINGS_ONLY
    ),
    ("PUT", "/admin/guide-incentives/settings"): Case(
        Kind.ADMIN_ONLY, lambda w: {"json": {"payment_method": "offline"}}, why=SETTINGS_ONLY
    ),
    ("GET", "/admin/guide-incentives/rules"): Case(
        Kind.TENANT_READ, needs=(World.rewards,), why="rules apply to every guide"
    ),
    ("POST", "/admin/guide-incentives/rules"): Case(
        Kind.ADMIN_ONLY,
        lambda w: {"json": {"name": "试穿", "behavior": "try_on", "amount_fen": 100}},
        why="rules apply to every guide",
    ),
    ("GET", "/admin/guide-incentives/rules/{rule_id}"): Case(
        Kind.TENANT_READ,
        lambda w: {"path_parameters": {"rule_id": w.rule_id}},
        needs=(World.rewards,),
        why="rules apply to every guide",
    ),
    ("PUT", "/admin/guide-incentives/rules/{rule_id}"): Case(
        Kind.ADMIN_ONLY,
        lambda w: {"path_parameters": {"rule_id": w.rule_id}, "json": {"amount_fen": 300}},
        why="rules apply to every guide",
    ),
    ("PATCH", "/admin/guide-incentives/rules/{rule_id}"): Case(
        Kind.ADMIN_ONLY,
        lambda w: {"path_parameters": {"rule_id": w.rule_id}, "json": {"enabled": False}},
        why="rules apply to every guide",
    ),
    ("POST", "/admin/guide-incentives/rules/{rule_id}/preview"): Case(
        Kind.SCOPED_READ,
        lambda w: {"path_parameters": {"rule_id": w.rule_id}, "json": {"amount_fen": 1}},
        needs=(World.rewards,),
        why="a dry run: POST carries the edit, nothing is written",
    ),
    ("GET", "/admin/guide-incentives/records"): Case(Kind.SCOPED_READ, needs=(World.rewards,)),
    # --- the affiliate console
    ("GET", "/admin/affiliates/settings"): Case(Kind.ADMIN_ONLY, why=AFFILIATES),
    ("PUT", "/admin/affiliates/settings"): Case(Kind.ADMIN_ONLY, lambda w: {"json": {}}, why=AFFILIATES),
    ("GET", "/admin/affiliates"): Case(Kind.ADMIN_ONLY, why=AFFILIATES),
    ("GET", "/admin/affiliates/{affiliate_id}"): Case(
        Kind.ADMIN_ONLY, _path(affiliate_id="a1"), why=AFFILIATES
    ),
    ("PATCH", "/admin/affiliates/{affiliate_id}"): Case(
        Kind.ADMIN_ONLY,
        lambda w: {"path_parameters": {"affiliate_id": "a1"}, "json": {"all_stores": True}},
        why=AFFILIATES,
    ),
    ("GET", "/admin/affiliates/applications"): Case(Kind.ADMIN_ONLY, why=AFFILIATES),
    ("POST", "/admin/affiliates/applications/{customer_id}/review"): Case(
        Kind.ADMIN_ONLY,
        lambda w: {"path_parameters": {"customer_id": "c1"}, "json": {"approve": True}},
        why=AFFILIATES,
    ),
    ("GET", "/admin/affiliates/store-applications"): Case(Kind.ADMIN_ONLY, why=AFFILIATES),
    ("POST", "/admin/affiliates/{affiliate_id}/stores/{store_id}/review"): Case(
        Kind.ADMIN_ONLY,
        lambda w: {"path_parameters": {"affiliate_id": "a1", "store_id": "s1"}, "json": {"approve": True}},
        why=AFFILIATES,
    ),
    ("GET", "/admin/affiliates/withdrawals"): Case(Kind.ADMIN_ONLY, why=AFFILIATES),
    ("POST", "/admin/affiliates/withdrawals/{withdrawal_id}/approve"): Case(
        Kind.ADMIN_ONLY, lambda w: {"path_parameters": {"withdrawal_id": "wd1"}, "json": {}}, why=AFFILIATES
    ),
    ("POST", "/admin/affiliates/withdrawals/{withdrawal_id}/reject"): Case(
        Kind.ADMIN_ONLY,
        lambda w: {"path_parameters": {"withdrawal_id": "wd1"}, "json": {"reason": "资料不全"}},
        why=AFFILIATES,
    ),
    ("POST", "/admin/affiliates/withdrawals/{withdrawal_id}/settle"): Case(
        Kind.ADMIN_ONLY,
        lambda w: {"path_parameters": {"withdrawal_id": "wd1"}, "json": {"reference": "BANK-1"}},
        why=AFFILIATES,
    ),
    ("POST", "/admin/affiliates/withdrawals/{withdrawal_id}/cancel"): Case(
        Kind.ADMIN_ONLY, _path(withdrawal_id="wd1"), why=AFFILIATES
    ),
    ("GET", "/admin/affiliates/commissions"): Case(Kind.ADMIN_ONLY, why=AFFILIATES),
    ("GET", "/admin/affiliates/levels"): Case(Kind.ADMIN_ONLY, why=AFFILIATES),
    ("PUT", "/admin/affiliates/levels"): Case(Kind.ADMIN_ONLY, lambda w: {"json": {}}, why=AFFILIATES),
    ("POST", "/admin/affiliates/levels/preview"): Case(
        Kind.ADMIN_ONLY, lambda w: {"json": {"delete_rank": 2}}, why=AFFILIATES
    ),
    ("DELETE", "/admin/affiliates/levels/{rank}"): Case(Kind.ADMIN_ONLY, _path(rank="2"), why=AFFILIATES),
    ("PATCH", "/admin/affiliates/{affiliate_id}/level"): Case(
        Kind.ADMIN_ONLY, lambda w: {"path_parameters": {"affiliate_id": "a1"}, "json": {}}, why=AFFILIATES
    ),
    ("GET", "/admin/affiliates/{affiliate_id}/level-history"): Case(
        Kind.ADMIN_ONLY, _path(affiliate_id="a1"), why=AFFILIATES
    ),
    # --- the WeChat Store connector: the store's fees are the tenant's, not a department's
    ("GET", "/admin/wechat-store/swagger"): Case(Kind.PUBLIC),
    ("GET", "/admin/wechat-store/orders/{order_id}"): Case(Kind.ADMIN_ONLY, _path(order_id="1"), why=STORE),
    ("GET", "/admin/wechat-store/flows"): Case(
        Kind.ADMIN_ONLY, lambda w: {"query": {"day": ["2026-11-24"]}}, why=STORE
    ),
    ("GET", "/admin/wechat-store/reconciliation"): Case(
        Kind.ADMIN_ONLY, lambda w: {"query": {"day": ["2026-11-24"]}}, why=STORE
    ),
}

CONSOLE_ROUTES = sorted(
    {(route.method, route.path) for route in read_stack().routes if route.path.startswith("/admin")}
)


def _strings(document: Any) -> Iterator[str]:
    """Every string of a JSON answer (keys and values), or the cells of a CSV one."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(document, list):
        for value in document:
            yield from _strings(value)
    elif isinstance(document, str):
        yield from (
            (cell for line in document.splitlines() for cell in line.split(","))
            if "\n" in document
            else (document,)
        )


def _lines_of(answer: Any, markers: set[str]) -> set[str]:
    return {text for text in _strings(answer) if text in markers}


def _snapshot(stack: StackHandle) -> tuple[list[dict[str, Any]], int]:
    items = sorted(stack.table_items(), key=lambda item: (item["pk"], item["sk"]))
    return items, len(stack.wecom.calls)


def test_every_console_route_is_in_the_table() -> None:
    assert set(ROUTES) == set(CONSOLE_ROUTES)
    for (method, path), case in ROUTES.items():
        if case.kind in (Kind.ADMIN_ONLY, Kind.TENANT_READ):
            assert case.why, f"{method} {path}: say why it has no department scope"
        if case.kind is Kind.TENANT_READ:
            assert method == "GET", f"{method} {path}: a tenant-wide change is admin only"


@pytest.mark.parametrize(("method", "path"), CONSOLE_ROUTES, ids=[f"{m} {p}" for m, p in CONSOLE_ROUTES])
def test_every_console_route_keeps_operators_in_their_scope(
    stack: StackHandle, method: str, path: str
) -> None:
    case = ROUTES.get((method, path))
    assert case is not None, f"{method} {path} is not classified in ROUTES"
    world = World(stack)
    world.org()
    for part in case.needs:
        part(world)
    request = case.request(world)

    def ask(token: str | None, **body_changes: Any) -> tuple[int, Any]:
        """The route's request as ``token``, its JSON body (if it has one) changed by ``body_changes``."""
        changed = dict(request)
        if body_changes and "json" in request:
            changed["json"] = {**request["json"], **body_changes}
        return call(stack, method, path, token, **changed)

    if case.kind is Kind.PUBLIC:
        status, document = ask(None)
        assert status == 200 and not _lines_of(document, world.east_markers - {"2", "21", "22"})
        return

    if case.kind is Kind.SCOPED_READ:
        east_status, east = ask(EAST)
        assert east_status == 200 and _lines_of(east, world.east_markers), east
        for outsider in (SOUTH, NOWHERE, NO_DEPARTMENT):
            status, answer = ask(outsider)
            assert status in (200, 404), answer
            assert not _lines_of(answer, world.east_markers), (status, answer)
        south_status, south = ask(SOUTH)
        if south_status == 200:  # a listing: their own lines are there
            assert _lines_of(south, world.south_markers), south
        if path == "/admin/guide-incentives/records":  # the CSV export too
            csv_status, csv = call(stack, method, path, SOUTH, query={"format": ["csv"]})
            assert csv_status == 200 and "chenjing" in csv and not _lines_of(csv, world.east_markers), csv
        return

    if case.kind is Kind.TENANT_READ:
        for token in (ADMIN, SOUTH, EAST):
            status, answer = ask(token)
            assert status == 200 and not _lines_of(answer, world.east_markers | world.south_markers), answer
        return

    before = _snapshot(stack)
    if case.kind is Kind.ADMIN_ONLY:
        for operator in (BOTH, EAST, SOUTH):  # on both nodes, on one: operators may not
            status, answer = ask(operator)
            assert status == 403 and answer["error"]["code"] == "forbidden", answer
        assert _snapshot(stack) == before, "a refused write changed something"
        set_nodes(stack, "3")  # dept 2 is no longer a data node: its operator only reads
        before = _snapshot(stack)
        status, answer = ask(EAST)
        assert status == 403, answer
        assert _snapshot(stack) == before, "a read-only operator changed something"
        assert ask(ADMIN)[0] not in (401, 403), "the table says admins may"
        return

    assert case.kind is Kind.SCOPED_WRITE
    refused = [
        (BOTH, {}, 400),  # on two nodes and names none
        (BOTH, {"data_node": "3"}, 403),  # a node of theirs that does not contain the target
        (BOTH, {"data_node": "99"}, 403),  # not a node of theirs
        (SOUTH, {}, 404),  # the target is outside their subtree
        (SOUTH, {"data_node": "3"}, 404),
        (NOWHERE, {}, 404),
    ]
    for operator, choice, expected in refused:
        status, answer = ask(operator, **choice)
        assert status == expected, (choice, answer)
        if expected == 400:
            assert answer["error"]["field"] == "data_node"
    assert _snapshot(stack) == before, "a refused write changed something"
    status, answer = ask(BOTH, data_node="2")
    assert status == 200, answer

    set_nodes(stack, "3")  # dept 2 is no longer a data node
    before = _snapshot(stack)
    for operator, choice in ((EAST, {}), (EAST, {"data_node": "2"}), (BOTH, {}), (BOTH, {"data_node": "2"})):
        status, answer = ask(operator, **choice)
        assert status == 403, (choice, answer)
    assert _snapshot(stack) == before, "a read-only operator changed something"


def _new_customers(stack: StackHandle) -> None:
    """The new-customer template at 300 fen, and a new customer this month for zhangwei (outlet 21,
    dept 2) and chenjing (outlet 31, dept 3)."""
    for method, change in (("PUT", {"amount_fen": 300}), ("PATCH", {"enabled": True})):
        status, body = call(
            stack,
            method,
            "/admin/guide-incentives/rules/{rule_id}",
            ADMIN,
            path_parameters={"rule_id": "new_customer"},
            json=change,
        )
        assert status == 200, body
    with mock.patch.object(clock.SystemClock, "now", lambda self: NOW):
        for outlet, guide in (("21", "zhangwei"), ("31", "chenjing")):
            way = _contact_way(stack, outlet)
            _scan(stack, way["config_id"], f"oUnion-{guide}", userid=guide)


@pytest.mark.parametrize(
    ("token", "guides"),
    [
        (SOUTH, ["chenjing"]),
        (NOWHERE, []),
        (NO_DEPARTMENT, []),
        (EAST, ["zhangwei"]),
        (ADMIN, ["chenjing", "zhangwei"]),
    ],
    ids=["dept 3", "dept 99", "no department", "dept 2", "admin"],
)
def test_a_rule_preview_shows_only_the_guides_in_the_callers_subtrees(
    stack: StackHandle, token: str, guides: list[str]
) -> None:
    """The reviewed leak: dept 3's operator previewing new_customer got dept 2's guides' figures."""
    World(stack).org()
    _new_customers(stack)
    status, preview = call(
        stack,
        "POST",
        "/admin/guide-incentives/rules/{rule_id}/preview",
        token,
        path_parameters={"rule_id": "new_customer"},
        json={"amount_fen": 1},
    )
    assert status == 200, preview
    assert [line["guide_id"] for line in preview["lines"]] == guides
    assert preview["produced_fen"] == 300 * len(guides) and preview["would_produce_fen"] == len(guides)


def _contact_ways(stack: StackHandle) -> list[dict[str, Any]]:
    return [item for item in stack.table_items() if item.get("kind") == "contact_way"]


def test_an_operator_whose_node_was_removed_cannot_overwrite_an_outlets_contact_way(
    stack: StackHandle,
) -> None:
    """The reviewed bypass: after dept 2 stopped being a data node, its operator got 403 on a
    guide's welcome message but 200 on the outlet's Contact-Me code, overwriting it."""
    World(stack).org()
    _contact_way(stack, "21", "欢迎光临静安店")
    set_nodes(stack, "3")
    way = {"path_parameters": {"outlet_id": "21"}, "json": {"welcome_message": "被改写"}}
    before = _snapshot(stack)
    for choice in ({}, {"data_node": "2"}):
        status, answer = call(
            stack,
            "POST",
            "/admin/outlets/{outlet_id}/contact-way",
            EAST,
            **{**way, "json": {**way["json"], **choice}},
        )
        assert status == 403 and "read-only" in answer["error"]["message"], answer
    status, _ = call(
        stack,
        "PUT",
        "/admin/guides/{user_id}/welcome-message",
        EAST,
        path_parameters={"user_id": "zhangwei"},
        json={"text": "您好"},
    )
    assert status == 403
    assert _snapshot(stack) == before and len(stack.wecom.contact_ways) == 1
    [stored] = _contact_ways(stack)
    assert stored["welcome_message"] == "欢迎光临静安店"
    _, outlets = call(stack, "GET", "/admin/outlets", EAST)  # history stays readable
    assert [outlet["outlet_id"] for outlet in outlets] == ["21", "22"]


def test_an_operator_on_two_nodes_names_the_one_that_contains_the_outlet(stack: StackHandle) -> None:
    World(stack).org()
    way = {"path_parameters": {"outlet_id": "21"}}
    for choice, expected in (({}, 400), ({"data_node": "3"}, 403), ({"data_node": "31"}, 403)):
        status, answer = call(
            stack,
            "POST",
            "/admin/outlets/{outlet_id}/contact-way",
            BOTH,
            **way,
            json={"welcome_message": "x", **choice},
        )
        assert status == expected and answer["error"]["field"] == "data_node", answer
    assert _contact_ways(stack) == [] and stack.wecom.contact_ways == {}
    status, created = call(
        stack,
        "POST",
        "/admin/outlets/{outlet_id}/contact-way",
        BOTH,
        **way,
        json={"welcome_message": "欢迎", "data_node": "2"},
    )
    assert status == 200, created
    [stored] = _contact_ways(stack)
    assert (stored["data_node"], stored["created_by"]) == ("2", "ops-both")
    status, _ = call(
        stack, "POST", "/admin/outlets/{outlet_id}/contact-way", EAST, **way, json={"welcome_message": "y"}
    )
    assert status == 200  # on one node: nothing to name


def test_an_operators_payout_pages_are_full_until_the_last(stack: StackHandle) -> None:
    """Scope applies before paging: dept 2's five payouts among fifteen of dept 3 come in pages
    of 2, 2, 1 (filtering a page after reading it gave short and empty pages)."""
    east = _payouts(5, dept_path=("1", "2", "21"), owner="zhangwei")
    _payouts(15, dept_path=("1", "3", "31"), owner="chenjing")
    pages, cursor = [], None
    while True:
        query = {"limit": ["2"], **({"cursor": [cursor]} if cursor else {})}
        status, page = call(stack, "GET", "/admin/payouts", EAST, query=query)
        assert status == 200, page
        pages.append([item["payout_id"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(page) for page in pages] == [2, 2, 1]
    assert sorted(payout for page in pages for payout in page) == sorted(east)
