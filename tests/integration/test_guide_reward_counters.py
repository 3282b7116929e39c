"""The guide reward counters per outlet and per guide on the embedded stack: an operator's overview,
an outlet's and a guide's equal the ones summed from every record, and a guide's month earnings
equal the ones summed from their rewards (a merchant month, not UTC days); a counter moved by hand
moves the answer (the counters are what is read); a payout's move to paid counts once, however
often its transaction is tried again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from incentives.core.access import Principal, Role
from incentives.core.errors import ConcurrentModification
from incentives.guides import service as incentives
from incentives.payouts.model import PayoutStatus
from incentives.runtime import wiring
from incentives.storage.payouts import PayoutRepository
from incentives.storage.table import Update
from tests.conftest import StackHandle
from tests.integration.test_console_scope import BOTH, EAST, NOWHERE, SOUTH
from tests.integration.test_guide_incentives import ADMIN, GUIDE, _admin, _behavior, _records, _rule
from tests.integration.test_guide_listings import _granted
from tests.integration.test_org_tags_guides import _call, _synced
from tests.support import token_for
from tests.support.guide_rewards import earnings

CORP = "ww-local-corp"
READ_ALL = "2030-01-01T00:00:00Z"
"""A bound that is not a whole UTC day: the overview is summed from every record."""
DAYS = {"from": "2026-11-03T00:00:00.000Z", "to": "2026-11-08T23:59:59.999Z"}
DAYS_READ = {"from": "2026-11-03T00:00:00.000Z", "to": "2026-11-08T23:59:59.998Z"}
"""The same rewards as ``DAYS`` (none is granted in the last millisecond of a day), read."""


def _counters(stack: StackHandle, part: str) -> list[dict[str, Any]]:
    return [i for i in stack.table_items() if f"#GUIDE_REWARD_TOTALS#{part}" in i["pk"]]


def _outlets(stack: StackHandle) -> dict[str, str]:
    """Each guide's outlet, as their rewards carry it."""
    return {r["guide_id"]: r["outlet_id"] for r in _records(stack, limit="50")["items"]}


def _bump(item: dict[str, Any], **add: int) -> Update:
    moved = Update({"pk": item["pk"], "sk": item["sk"]}, add=add)
    wiring.table().transact([moved])
    return Update(moved.key, add={name: -value for name, value in add.items()})


def test_operator_outlet_and_guide_overviews_equal_the_records_summed(stack: StackHandle) -> None:
    _granted(stack)
    outlets = _outlets(stack)
    zhang, chen = outlets["zhangwei"], outlets["chenjing"]
    assert zhang and chen and zhang != chen
    filters: list[dict[str, str]] = [
        {},
        {"outlet_id": zhang},
        {"outlet_id": chen},
        {"guide_id": "zhangwei"},
        {"guide_id": "chenjing", "outlet_id": chen},
        {"guide_id": "chenjing", "outlet_id": zhang},
    ]
    for token in (_admin(), EAST, SOUTH, BOTH, NOWHERE):
        for query in filters:
            counted = _records(stack, token, **query)["overview"]
            assert counted == _records(stack, token, **query, to=READ_ALL)["overview"], (token, query)
            within = _records(stack, token, **query, **DAYS)["overview"]
            assert within == _records(stack, token, **query, **DAYS_READ)["overview"], (token, query)
    east = _records(stack, EAST)["overview"]
    assert east["records"] == 5 and east["total_paid_fen"] == 1_000  # zhangwei's outlet only
    assert _records(stack, EAST, outlet_id=chen)["overview"]["records"] == 0  # out of scope
    assert _records(stack, _admin(), **DAYS, guide_id="zhangwei")["overview"]["records"] == 3

    [outlet_day, *_] = [i for i in _counters(stack, f"OUTLET#{zhang}") if i["sk"] == "DAY#2026-11-02"]
    undo = _bump(outlet_day, records=1, paid_fen=5)  # by hand: what reads these counters shows it
    assert _records(stack, EAST)["overview"]["records"] == 6
    assert _records(stack, EAST)["overview"]["total_paid_fen"] == 1_005
    assert _records(stack, _admin(), outlet_id=zhang)["overview"]["records"] == 6
    assert _records(stack, SOUTH)["overview"]["records"] == 5  # another outlet's counters
    assert _records(stack, EAST, to=READ_ALL)["overview"]["records"] == 5  # the records themselves
    wiring.table().transact([undo])
    [guide_day] = [i for i in _counters(stack, "GUIDE#zhangwei") if i["sk"] == f"DAY#2026-11-02#{zhang}"]
    undo = _bump(guide_day, records=2)
    assert _records(stack, _admin(), guide_id="zhangwei")["overview"]["records"] == 7
    assert _records(stack, EAST, guide_id="zhangwei", outlet_id=zhang)["overview"]["records"] == 7
    assert _records(stack, SOUTH, guide_id="zhangwei")["overview"]["records"] == 0  # not their outlet
    wiring.table().transact([undo])


def test_a_guides_month_earnings_come_from_their_counters_by_the_merchant_month(stack: StackHandle) -> None:
    _granted(stack)
    # 01:00 on 1 December in Shanghai is still 30 November in UTC: it counts in December
    _behavior(stack, "g-december", "2026-12-01T01:00:00+08:00", guide="zhangwei")
    repo, payouts = wiring.guide_repository(), wiring.payout_repository()
    time_zone = "Asia/Shanghai"
    asking, query = Principal(CORP, "zhangwei", Role.GUIDE), incentives.RecordQuery(only_guide="zhangwei")
    mine = list(incentives.every_record(repo, payouts, asking, query))
    for now in (
        datetime(2026, 11, 15, tzinfo=UTC),
        datetime(2026, 11, 30, 15, 59, tzinfo=UTC),  # 23:59 on 30 November in Shanghai
        datetime(2026, 11, 30, 16, 0, tzinfo=UTC),  # midnight: December in Shanghai
        datetime(2027, 1, 1, tzinfo=UTC),
    ):
        counted = incentives.maintained_earnings(repo, CORP, "zhangwei", now, time_zone)
        assert counted == earnings(mine, now, time_zone), now
    november = incentives.maintained_earnings(
        repo, CORP, "zhangwei", datetime(2026, 11, 15, tzinfo=UTC), time_zone
    )
    assert november.this_month_fen == 1_000 and november.total_fen == 1_200
    december = incentives.maintained_earnings(
        repo, CORP, "zhangwei", datetime(2026, 12, 2, tzinfo=UTC), time_zone
    )
    assert december.this_month_fen == 200

    guide = token_for("guide", subject="zhangwei")
    status, home = _call(stack, GUIDE, "GET", "/guide/incentives", guide)
    assert status == 200 and home["total_fen"] == 1_200
    [month] = [i for i in _counters(stack, "GUIDE#zhangwei") if i["sk"] == "MONTH#2026-11"]
    wiring.table().transact([Update({"pk": month["pk"], "sk": "MONTH#2020-01"}, add={"paid_fen": 7})])
    status, home = _call(stack, GUIDE, "GET", "/guide/incentives", guide)
    assert status == 200 and home["total_fen"] == 1_207  # read from the counters, not the rewards


def test_a_payouts_move_to_paid_counts_once_even_when_its_transaction_is_tried_again(
    stack: StackHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    _synced(stack)
    settings = {"payment_method": "online"}
    assert stack.status(ADMIN, "PUT", "/admin/guide-incentives/settings", _admin(), json=settings) == 200
    _rule(stack, amount=1_000, limit=None)
    _behavior(stack, "visit-online", "2026-11-02T10:00:00+08:00")
    saved: list[tuple[Any, ...]] = []
    save = PayoutRepository.save

    def recording(repo: PayoutRepository, *args: Any) -> None:
        save(repo, *args)
        saved.append((repo, *args))

    monkeypatch.setattr(PayoutRepository, "save", recording)
    stack.feed("PayoutWorkerFunction", "PayoutQueue")
    [record] = _records(stack)["items"]
    assert record["status"] == "paid"
    paid = [call for call in saved if call[1].status is PayoutStatus.PAID]
    assert len(paid) == 1
    counters = [*_counters(stack, "S"), *_counters(stack, "OUTLET#"), *_counters(stack, "GUIDE#")]
    assert len(counters) == 4 and all(int(i["paid_fen"]) == 1_000 for i in counters)
    repo, payout, expected_version, *entries = paid[0]
    with pytest.raises(ConcurrentModification):  # the same transaction again: refused whole
        repo.save(payout, expected_version, *entries)
    again = [*_counters(stack, "S"), *_counters(stack, "OUTLET#"), *_counters(stack, "GUIDE#")]
    assert sorted(map(str, again)) == sorted(map(str, counters))
    assert _records(stack)["overview"]["total_paid_fen"] == 1_000
    assert _records(stack, _admin(), guide_id="zhangwei")["overview"]["total_paid_fen"] == 1_000
