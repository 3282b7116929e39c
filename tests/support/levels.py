"""A program with levels on the in-memory table, driven through the product's own event dispatch."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from incentives.affiliates.program import ProgramSettings
from incentives.core.clock import FixedClock
from incentives.events.consumers import EventPorts, build_consumers
from incentives.events.dispatch import Consumers, Outcome, apply_queued_event
from incentives.levels import service
from incentives.levels.settings import LevelSettings
from incentives.messages.queued import QueuedEvent
from incentives.orders.aggregate import AfterSalesWindow
from incentives.storage.affiliates import store
from incentives.storage.affiliates.membership import ApplicationInput, submit_application
from incentives.storage.ledger import LedgerRepository
from incentives.storage.levels import TableLevelRepository
from incentives.storage.memory_table import MemoryTable
from incentives.storage.orders import TableOrderRepository
from incentives.storage.payouts import PayoutRepository

CORP = "ww-levels"
TZ = "Asia/Shanghai"
PROGRAM: dict[str, Any] = {
    "promotion_enabled": True,
    "invitation_image_url": "https://img.example.com/invite.png",
    "commission_rate_bp": 1000,
    "invite_rate_bp": 500,
    "after_sales_window_days": 7,
    "application": {"review": "auto"},
}
TYPES = {
    "OrderPaid": "order.paid",
    "OrderRefunded": "order.refunded",
    "OrderCompleted": "order.completed",
    "AfterSalesWindowClosed": "order.after_sales_window_closed",
    "ReferralClicked": "referral.clicked",
    "MemberRegistered": "member.registered",
    "RechargePaid": "recharge.paid",
}


class _NoQueue:
    def send(self, corp_id: str, payout_id: str, generation: int) -> None:
        raise AssertionError("no payout is queued in these tests")


@dataclass
class LevelWorld:
    clock: FixedClock
    table: MemoryTable = field(default_factory=MemoryTable)
    consumers: Consumers | None = None

    @classmethod
    def create(cls, now: datetime, **program: Any) -> LevelWorld:
        world = cls(FixedClock(now))
        store.save_settings(world.table, CORP, ProgramSettings.model_validate({**PROGRAM, **program}), now)
        world.consumers = build_consumers(
            EventPorts(
                table=world.table,
                ledger=LedgerRepository(world.table),
                orders=TableOrderRepository(world.table),
                payouts=PayoutRepository(world.table),
                payout_queue=_NoQueue(),
                emit=lambda events: None,
                wecom_client=lambda corp: None,
                clock=world.clock,
                time_zone=TZ,
                window=AfterSalesWindow(7),
            )
        )
        return world

    @property
    def levels(self) -> TableLevelRepository:
        return TableLevelRepository(self.table)

    def set_levels(self, *levels: dict[str, Any], **settings: Any) -> None:
        document = LevelSettings.model_validate({"levels": list(levels), **settings})
        service.save_settings(self.levels, CORP, document, self.clock.now())

    def join(self, who: str, invited_by: str | None = None) -> None:
        body = ApplicationInput(openid=f"openid-{who}", invited_by=invited_by)
        submit_application(self.table, CORP, who, body, self.clock.now(), time_zone=TZ)

    def send(self, event_id: str, fact: Any, at: datetime | None = None) -> Outcome:
        """One event as the processor receives it, applied as of ``at`` (default: the clock)."""
        if at is not None:
            self.clock.instant = at
        assert self.consumers is not None
        now = self.clock.now()
        queued = QueuedEvent.model_validate(
            {
                "corp_id": CORP,
                "received_at": now,
                "event": {
                    "event_id": event_id,
                    "type": TYPES[type(fact).__name__],
                    "occurred_at": now,
                    "data": fact.model_dump(mode="json"),
                },
            }
        )
        return apply_queued_event(queued, self.consumers)

    def run_job(self, at: datetime | None = None) -> dict[str, int]:
        """``LevelAssessmentFunction`` as of ``at``."""
        if at is not None:
            self.clock.instant = at
        return service.run_assessment(self.levels, TableOrderRepository(self.table), self.clock.now(), TZ)

    def totals(self, affiliate: str) -> dict[str, int]:
        """Every figure of the affiliate counted so far (future-dated deal figures included)."""
        return {key: n for key, n in self.levels.standing(CORP, affiliate).totals.items() if n}

    def days(self, affiliate: str) -> dict[date, dict[str, int]]:
        standing = self.levels.standing(CORP, affiliate)
        figures = self.levels.figures(CORP, standing, date.min)
        return {
            day: {key: n for key, n in amounts.items() if n}
            for day, amounts in sorted(figures.days.items())
            if any(amounts.values())
        }

    def rank(self, affiliate: str) -> int:
        return self.levels.standing(CORP, affiliate).rank
