"""Quotas (配额, seed 001 §2.3.3 (5)), pure: when the merchant changes the level rules and keeps
everyone's level, a per-affiliate, per-metric offset makes their figures fit their level under the
new rules. The offset is added to the figure in every threshold check, and shown with it.
"""

from __future__ import annotations

from datetime import date

from incentives.levels.assessment import check_threshold
from incentives.levels.metrics import MetricHistory
from incentives.levels.settings import LevelSettings, Match, Strategy


def keep_quota(settings: LevelSettings, rank: int, figures: MetricHistory, day: date) -> dict[str, int]:
    """``keep``: per metric, the offset that makes the affiliate's figures fit level ``rank`` under
    ``settings``: its threshold met and no automatic level above met (seed: level 3 with 16 paid
    orders, level 3 now needs 21 → +5; level 4 needs 31, so then 10 more).

    Level ``rank``'s unmet conditions (``all``: each; ``any``: the first) set a lower bound, the
    offset that just meets them. Then each automatic level above that the figures would meet gets
    an upper bound, the offset just below it: on one condition for ``all`` (the first whose metric
    can go that low without leaving level ``rank``), on every condition for ``any``. Where no offset
    can fit both, the level's own threshold wins (the affiliate keeps their level)."""
    lowest: dict[str, int] = {}
    level = settings.level(rank)
    if level is not None and level.threshold is not None and rank > 1:
        current = check_threshold(rank, level, figures, day)
        assert current is not None
        unmet = [check for check in current.conditions if not check.met]
        if level.threshold.match is Match.ANY:
            unmet = unmet[:1] if len(unmet) == len(current.conditions) else []
        for check in unmet:
            lowest[check.metric.value] = check.at_least - check.value
    quota = dict(lowest)
    for position, higher in enumerate(settings.levels[rank:], start=rank + 1):
        above = check_threshold(position, higher, figures, day, quota)
        if higher.strategy is not Strategy.AUTO or above is None or not above.met:
            continue
        bounds = {
            check.metric.value: check.at_least - 1 - (check.value - check.quota) for check in above.conditions
        }
        fitting = [key for key, bound in bounds.items() if bound >= lowest.get(key, bound)]
        chosen = fitting[:1] if above.match is Match.ALL else fitting
        for key in chosen:
            quota[key] = min(quota.get(key, 0), bounds[key])
    return {key: offset for key, offset in sorted(quota.items()) if offset}
