"""Expected vs charged, per order (pure): the subsidy plan's expected technical service fee (and
growth card) against what the store's funds flows say it charged.

Buckets:

- ``matched``: the fee charged equals the expected fee;
- ``differs``: both are known and differ — the row names the order, the expected scene, the
  expectation's evidence, both figures and the difference;
- ``missing``: one side is absent (an expectation with no fee charged that day, or a fee charged
  on an order with no expectation);
- ``quarantined``: a flow record of the day that could not be read (its reason), never guessed.

The growth card is an ad credit, not a funds flow: the API does not show it, so each row carries
the expected card and ``card_shown = False`` rather than a made-up comparison.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

from incentives.wechat_store.flows import Flow, QuarantinedFlow
from incentives.wechat_store.ports import ExpectationView, SubsidyExpectations

Bucket = Literal["matched", "differs", "missing", "quarantined"]
BUCKETS: tuple[Bucket, ...] = ("matched", "differs", "missing", "quarantined")
NO_CAMPAIGN = "(none)"
NO_EXPECTATION = "a fee was charged but the subsidy ledger has no expectation for the order"


@dataclass(frozen=True)
class Row:
    day: str
    order_id: str
    bucket: Bucket
    campaign_id: str | None = None
    scene: str | None = None
    state: str | None = None
    in_plan: bool | None = None
    settled_fen: int | None = None
    expected_rate_ppm: int | None = None
    expected_fee_fen: int | None = None
    charged_fee_fen: int | None = None
    difference_fen: int | None = None
    growth_card_fen: int | None = None
    card_shown: bool = False
    evidence: tuple[str, ...] = ()
    flow_ids: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Totals:
    orders: int = 0
    expected_fee_fen: int = 0
    charged_fee_fen: int = 0
    difference_fen: int = 0
    growth_card_fen: int = 0
    buckets: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    day: str
    rows: tuple[Row, ...]
    totals: Totals
    by_campaign: dict[str, Totals]
    expectations_available: bool = True


def charges_by_order(flows: Iterable[Flow]) -> dict[str, tuple[int, tuple[str, ...]]]:
    """Order id → (fee charged in fen, the flows it comes from): expenses minus fees returned."""
    fee: dict[str, int] = defaultdict(int)
    ids: dict[str, list[str]] = defaultdict(list)
    for flow in flows:
        if flow.is_service_fee and flow.order_id:
            fee[flow.order_id] += flow.signed_fee_fen
            ids[flow.order_id].append(flow.flow_id)
    return {order: (fee[order], tuple(sorted(ids[order]))) for order in fee}


def _row(
    day: str, order_id: str, expectation: ExpectationView | None, charge: tuple[int, tuple[str, ...]] | None
) -> Row:
    charged, flow_ids = charge if charge is not None else (None, ())
    if expectation is None:
        return Row(
            day,
            order_id,
            "missing",
            charged_fee_fen=charged,
            flow_ids=flow_ids,
            note=NO_EXPECTATION,
        )
    expected = Row(
        day,
        order_id,
        "missing",
        campaign_id=expectation.campaign_id,
        scene=expectation.scene,
        state=expectation.state,
        in_plan=expectation.in_plan,
        settled_fen=expectation.settled_fen,
        expected_rate_ppm=expectation.expected_rate_ppm,
        expected_fee_fen=expectation.expected_fee_fen,
        growth_card_fen=expectation.growth_card_fen,
        evidence=tuple(expectation.evidence),
        note="expected a fee but no service-fee flow was booked that day",
    )
    if charged is None:
        return expected
    difference = charged - expectation.expected_fee_fen
    if difference == 0:
        return replace(
            expected, bucket="matched", charged_fee_fen=charged, difference_fen=0, flow_ids=flow_ids, note=""
        )
    side = "over" if difference > 0 else "under"
    return replace(
        expected,
        bucket="differs",
        charged_fee_fen=charged,
        difference_fen=difference,
        flow_ids=flow_ids,
        note=(
            f"charged {charged} fen, expected {expectation.expected_fee_fen} fen under scene "
            f"{expectation.scene or 'none'} ({side}-charged by {abs(difference)} fen)"
        ),
    )


def _totals(rows: Sequence[Row]) -> Totals:
    buckets: dict[str, int] = {bucket: sum(1 for row in rows if row.bucket == bucket) for bucket in BUCKETS}
    return Totals(
        orders=len({row.order_id for row in rows}),
        expected_fee_fen=sum(row.expected_fee_fen or 0 for row in rows),
        charged_fee_fen=sum(row.charged_fee_fen or 0 for row in rows),
        difference_fen=sum(row.difference_fen or 0 for row in rows),
        growth_card_fen=sum(row.growth_card_fen or 0 for row in rows),
        buckets=buckets,
    )


def reconcile(
    corp_id: str,
    day: date,
    flows: Sequence[Flow],
    quarantined: Sequence[QuarantinedFlow],
    expectations: SubsidyExpectations | None,
) -> Report:
    """The day's report: every order expected to settle that day or charged a fee that day.

    Without the subsidy ledger (``expectations`` None) every fee charged is ``missing`` its
    expectation and the report says so (``expectations_available``): nothing is guessed.
    """
    charges = charges_by_order(flows)
    expected: dict[str, ExpectationView] = {}
    if expectations is not None:
        expected = {item.order_id: item for item in expectations.expectations_for_day(corp_id, day)}
        for order_id in sorted(set(charges) - set(expected)):
            found = expectations.expectation(corp_id, order_id)
            if found is not None:
                expected[order_id] = found
    text = day.isoformat()
    rows = [
        _row(text, order_id, expected.get(order_id), charges.get(order_id))
        for order_id in sorted(set(charges) | set(expected))
    ]
    rows += [
        Row(text, item.order_id or "", "quarantined", flow_ids=(item.flow_id,), note=item.reason)
        for item in sorted(quarantined, key=lambda q: q.flow_id)
    ]
    grouped: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[row.campaign_id or NO_CAMPAIGN].append(row)
    return Report(
        text,
        tuple(rows),
        _totals(rows),
        {campaign: _totals(grouped[campaign]) for campaign in sorted(grouped)},
        expectations_available=expectations is not None,
    )


CSV_COLUMNS = (
    "day",
    "order_id",
    "bucket",
    "campaign_id",
    "scene",
    "state",
    "in_plan",
    "settled_fen",
    "expected_rate_ppm",
    "expected_fee_fen",
    "charged_fee_fen",
    "difference_fen",
    "growth_card_fen",
    "card_shown",
    "evidence",
    "flow_ids",
    "note",
)
