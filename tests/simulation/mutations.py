"""Known defects, injected one at a time, that the simulation must report.

Each mutation patches the product the way a plausible bug would change it; the mutation
self-test runs seeds until the simulation reports it, and names the check that must be the
one to trip. A check that no mutation here trips guards nothing and does not belong in the
simulation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from unittest import mock

from incentives.affiliates import lifecycle, refunds
from incentives.ledger.model import Entry, EntryKind
from incentives.levels import assessment, decision, downgrades
from incentives.levels.assessment import CheckKind
from incentives.payouts import pipeline, reconciler
from incentives.payouts.model import Payout, ProviderName
from incentives.payouts.provider import Outcome, ProviderResult
from incentives.payouts.wechat_transfer import WeChatTransfer
from incentives.payouts.wecom_pay import WeComPayToEmployee
from incentives.storage import guides, ledger
from incentives.storage import level_items as level_storage
from incentives.storage.affiliates import records as affiliate_records
from incentives.storage.affiliates import withdrawals
from incentives.storage.payouts import PayoutRepository
from infra.local.sandboxes.payments import PaymentsSandbox


def _posts_subsidy_at_payment() -> contextlib.AbstractContextManager[Any]:
    """The subsidy is computed and posted when the order is paid, not after its after-sales window."""
    from incentives.subsidy import case as subsidy_case

    original = subsidy_case.record_payment

    def eager(case: Any, event_id: str, order: Any, campaigns: Any, time_zone: str) -> Any:
        step = original(case, event_id, order, campaigns, time_zone)
        if step.case is case:
            return step
        settled = subsidy_case.settle(
            step.case, f"{event_id}-now", order, {}, campaigns, time_zone, order.paid_at
        )
        return settled

    return mock.patch.object(subsidy_case, "record_payment", eager)


TIMED_LEVELS = "replaying its history gives"
"""What the second tenant's level check (``oracle.timed_levels_match_history``) reports."""


@dataclass(frozen=True)
class Mutation:
    name: str
    patch: Callable[[], contextlib.AbstractContextManager[Any]]
    caught_by: str
    """Words of the report that show the intended check tripped."""


def _credits_twice() -> contextlib.AbstractContextManager[Any]:
    """A credit is posted a second time under a new entry id (a retry that minted a new id)."""

    def doubled(original: Callable[..., Any]) -> Callable[..., Any]:
        def post(entries: list[Entry], at: Any) -> Any:
            again = [
                replace(e, entry_id=e.entry_id + "-again") for e in entries if e.kind is EntryKind.CREDIT
            ]
            return original([*entries, *again], at)

        return post

    stack = contextlib.ExitStack()
    stack.enter_context(
        mock.patch.object(affiliate_records, "posting_writes", doubled(affiliate_records.posting_writes))
    )
    stack.enter_context(mock.patch.object(guides, "posting_writes", doubled(guides.posting_writes)))
    return stack


def _skips_reversals() -> contextlib.AbstractContextManager[Any]:
    """A refund is recorded on the commission but nothing is taken back."""
    return mock.patch.object(refunds, "taken_back", lambda lines, refunded: 0)


def _settles_before_the_window() -> contextlib.AbstractContextManager[Any]:
    """The hold is dated at completion, forgetting the after-sales window."""
    original = lifecycle._schedule

    def early(effects: Any, corp_id: str, state: Any, share: Any, hold_until: Any) -> None:
        original(effects, corp_id, state, share, state.completed.completed_at)

    return mock.patch.object(lifecycle, "_schedule", early)


def _pays_a_withdrawal_twice() -> contextlib.AbstractContextManager[Any]:
    """Approving a withdrawal queues a second payout for it (another source string, another id)."""
    original = withdrawals.approve

    def approve(
        table: Any, queue: Any, corp_id: str, withdrawal_id: str, body: Any, actor: str, now: Any
    ) -> Any:
        done = original(table, queue, corp_id, withdrawal_id, body, actor, now)
        if done.get("settlement") == "auto":
            item = dict(done, withdrawal_id=f"{withdrawal_id}-again")
            again = withdrawals._payout(table, corp_id, item, ProviderName.WECHAT_TRANSFER, now)
            table.transact([PayoutRepository.creation_write(again)])
            queue.send(corp_id, again.payout_id, again.generation)
        return done

    return mock.patch.object(withdrawals, "approve", approve)


def _fresh_number_on_retry() -> contextlib.AbstractContextManager[Any]:
    """A retry sends the transfer under a new number instead of the payout id."""

    def renumbered(original: Callable[..., Any]) -> Callable[..., Any]:
        def transfer(self: Any, payout: Payout) -> Any:
            if payout.sends > 1:
                payout = replace(payout, payout_id=f"{payout.payout_id[:-2]}{payout.sends:02d}")
            return original(self, payout)

        return transfer

    stack = contextlib.ExitStack()
    for provider in (WeComPayToEmployee, WeChatTransfer):
        stack.enter_context(mock.patch.object(provider, "transfer", renumbered(provider.transfer)))
    return stack


def _unguarded_balance() -> contextlib.AbstractContextManager[Any]:
    """The balance guard is gone: a withdrawal may reserve more than is withdrawable."""
    return mock.patch.object(ledger, "guarded_decrements", lambda entries: {})


def _balance_not_updated_on_reversal() -> contextlib.AbstractContextManager[Any]:
    """A reversal's entry is written but its balance update is dropped."""
    original = ledger.posting_writes

    def writes(entries: list[Entry], at: Any) -> Any:
        found = original(entries, at)
        if any(entry.kind is EntryKind.REVERSAL for entry in entries):
            return [write for write in found if not ledger._is_balance(write)]
        return found

    stack = contextlib.ExitStack()
    stack.enter_context(mock.patch.object(ledger, "posting_writes", writes))
    return stack


def _gives_up_on_a_retry() -> contextlib.AbstractContextManager[Any]:
    """A payout already sent once is left as it is instead of being resolved with the provider,
    and the reconciler's index of open payouts finds nothing (both, or it heals the other)."""
    original = pipeline.process_payout

    def process(repository: Any, providers: Any, corp_id: str, payout_id: str, *args: Any, **kw: Any) -> Any:
        current = repository.get(corp_id, payout_id)
        if current is not None and current.sends > 0 and current.status.value == "sending":
            return current
        return original(repository, providers, corp_id, payout_id, *args, **kw)

    stack = contextlib.ExitStack()
    stack.enter_context(mock.patch.object(pipeline, "process_payout", process))
    stack.enter_context(mock.patch.object(PayoutRepository, "open_since", lambda self, before, limit=500: []))
    return stack


def _provider_forgets_numbers() -> contextlib.AbstractContextManager[Any]:
    """The provider (here, its sandbox) keeps no record of the numbers it paid, so a retry
    under the same number moves the money again: the simulation must not trust it blindly."""

    def forgetful(original: Callable[..., Any]) -> Callable[..., Any]:
        def call(self: PaymentsSandbox, *args: Any, **kwargs: Any) -> Any:
            with self.lock:
                self.transfers.clear()
            return original(self, *args, **kwargs)

        return call

    stack = contextlib.ExitStack()
    for name in ("pay_to_employee", "transfer_bill"):
        stack.enter_context(
            mock.patch.object(PaymentsSandbox, name, forgetful(getattr(PaymentsSandbox, name)))
        )
    return stack


def _settling_with(settle: Callable[..., Any]) -> contextlib.AbstractContextManager[Any]:
    """``settle`` in place of ``settle_result`` wherever the payout modules store a provider's answer."""
    stack = contextlib.ExitStack()
    for module in (pipeline, reconciler):
        stack.enter_context(mock.patch.object(module, "settle_result", settle))
    return stack


def _closed_transfer_paid() -> contextlib.AbstractContextManager[Any]:
    """A transfer bill closed unpaid (declined, expired) is taken for a payment."""
    original = pipeline.settle_result

    def settle(repository: Any, payout: Payout, result: ProviderResult, now: Any, *args: Any) -> Any:
        if result.outcome is Outcome.CANCELLED:
            result = ProviderResult(Outcome.SUCCESS, transaction_id=result.transaction_id or "closed")
        return original(repository, payout, result, now, *args)

    return _settling_with(settle)


def _closed_transfer_keeps_its_reserve() -> contextlib.AbstractContextManager[Any]:
    """A transfer bill closed unpaid cancels the payout but forgets to release its reserve."""
    original = pipeline.settle_result

    def settle(repository: Any, payout: Payout, result: ProviderResult, now: Any, *args: Any) -> Any:
        if result.outcome is Outcome.CANCELLED:
            closed = payout.closed_unpaid(now, result.code, result.reason)
            repository.save(closed, payout.version)
            return closed
        return original(repository, payout, result, now, *args)

    return _settling_with(settle)


def _waiting_transfers_never_checked() -> contextlib.AbstractContextManager[Any]:
    """The reconciler never looks at transfers waiting for their payee: a lost notification, or a
    payee who never confirms, leaves the payout waiting for ever."""
    return mock.patch.object(PayoutRepository, "awaiting_due", lambda self, now, limit=500: [])


def _level_figure_counted_twice() -> contextlib.AbstractContextManager[Any]:
    """A source's figures are written again whole each time it moves, forgetting what it already
    contributed (a metric counted twice)."""
    return mock.patch.object(level_storage, "minus", lambda target, applied: dict(target))


def _lowest_level_met() -> contextlib.AbstractContextManager[Any]:
    """Several thresholds met: the affiliate rises to the lowest of them, not the highest."""

    def lowest(settings: Any, rank: int, figures: Any, day: Any, quota: Any = None) -> Any:
        met = [
            check for check in assessment.next_levels(settings, rank, figures, day, quota or {}) if check.met
        ]
        return min(met, key=lambda check: check.rank) if met else None

    return mock.patch.object(decision, "upgrade", lowest)


def _quota_forgotten() -> contextlib.AbstractContextManager[Any]:
    """The merchant keeps levels on a rule change, but no quota is written (the figures then fit
    another level than the one kept)."""
    return mock.patch.object(decision, "keep_quota", lambda settings, rank, figures, day: {})


def _threshold_downgrade_skipped() -> contextlib.AbstractContextManager[Any]:
    """A level whose threshold is no longer met is kept (the downgrade check never made)."""
    return mock.patch.object(decision, "downgrade", lambda *args, **kwargs: None)


def _cycle_a_day_late() -> contextlib.AbstractContextManager[Any]:
    """Cycles counted from the day after the level was obtained: each ends, and is checked, a day
    late (obtained 4.12, N = 10: checked as 4.23 begins, not 4.22)."""
    original = downgrades.periodic_windows

    def late(level: Any, position: Any, day: Any) -> Any:
        if level.downgrade.kind is not downgrades.DowngradeKind.CYCLE:
            return original(level, position, day)
        return original(level, replace(position, obtained=position.obtained + timedelta(days=1)), day)

    return mock.patch.object(downgrades, "periodic_windows", late)


def _single_check_never_made() -> contextlib.AbstractContextManager[Any]:
    """The single check's day comes and goes: its window is never checked."""
    original = downgrades.periodic_windows

    def without_single(level: Any, position: Any, day: Any) -> Any:
        return [found for found in original(level, position, day) if found[0] is not CheckKind.SINGLE]

    return mock.patch.object(downgrades, "periodic_windows", without_single)


def _retention_ignored() -> contextlib.AbstractContextManager[Any]:
    """A triggered downgrade is made whatever the retention conditions say (保级 never looked at)."""
    return mock.patch.object(downgrades, "retention_check", lambda level, figures, trigger_day: None)


def _quota_left_out_of_downgrades() -> contextlib.AbstractContextManager[Any]:
    """The downgrade checks compare the figures without the quota ``keep`` gave (the level is lost
    the first time it is checked)."""
    original = downgrades.downgrade

    def without_quota(settings: Any, position: Any, figures: Any, day: Any, **kwargs: Any) -> Any:
        return original(settings, replace(position, quota={}), figures, day, **kwargs)

    return mock.patch.object(decision, "downgrade", without_quota)


def _no_stacked_threshold_check() -> contextlib.AbstractContextManager[Any]:
    """A level with a cycle or single check is never checked against its threshold when figures
    move (叠加考核 dropped): only its periodic checks can lower it."""
    original = downgrades.downgrade

    def unstacked(settings: Any, position: Any, figures: Any, day: Any, **kwargs: Any) -> Any:
        return original(settings, position, figures, day, moved=False)

    return mock.patch.object(decision, "downgrade", unstacked)


MUTATIONS = (
    Mutation("a credit posted twice under a new id", _credits_twice, "the history makes it"),
    Mutation("a reversal skipped", _skips_reversals, "reversed + clawed back"),
    Mutation("a settlement before the window", _settles_before_the_window, "before its window closed"),
    Mutation("a second payout for one withdrawal", _pays_a_withdrawal_twice, "paid twice"),
    Mutation("a transfer under a fresh number on retry", _fresh_number_on_retry, "unknown number"),
    Mutation("a reserve beyond the withdrawable balance", _unguarded_balance, "below zero"),
    Mutation(
        "a balance not updated with its entry", _balance_not_updated_on_reversal, "not the sum of its entries"
    ),
    Mutation("a sent payout never resolved", _gives_up_on_a_retry, "after the drain"),
    Mutation("the provider pays one number twice", _provider_forgets_numbers, "paid 2 times"),
    Mutation("a transfer closed unpaid taken for paid", _closed_transfer_paid, "the history makes it"),
    Mutation("a closed transfer's reserve kept", _closed_transfer_keeps_its_reserve, "reserved is"),
    Mutation("waiting transfers never checked", _waiting_transfers_never_checked, "after the drain"),
    Mutation("a level figure counted twice", _level_figure_counted_twice, "level figure"),
    Mutation("the lowest level met instead of the highest", _lowest_level_met, "the history makes it level"),
    Mutation("a kept level's quota forgotten", _quota_forgotten, "the rule change makes it"),
    Mutation(
        "a failed threshold never downgrades", _threshold_downgrade_skipped, "the history makes it level"
    ),
    Mutation("the subsidy posted at payment", _posts_subsidy_at_payment, "not settled"),
    Mutation("a cycle checked a day late", _cycle_a_day_late, TIMED_LEVELS),
    Mutation("the single check never made", _single_check_never_made, TIMED_LEVELS),
    Mutation("retention ignored", _retention_ignored, TIMED_LEVELS),
    Mutation("the quota left out of the downgrade checks", _quota_left_out_of_downgrades, TIMED_LEVELS),
    Mutation("no threshold check stacked on cycle or single", _no_stacked_threshold_check, TIMED_LEVELS),
)


@contextlib.contextmanager
def injected(mutation: Mutation) -> Iterator[None]:
    with mutation.patch():
        yield
