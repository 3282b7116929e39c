"""Affiliate levels (seed 001 §2.3): the level settings, the ten metrics, upgrades, downgrades,
retention, rule changes with quotas, and why each level change happened.

- ``settings``: the merchant's levels (rank, name, rate, strategy, period, threshold) and their checks;
- ``metrics``: the ten metrics, what each source (order, binding, joining …) contributes to them
  and on which day, and the figures of a window;
- ``assessment``: windows, thresholds, the upgrade decision and the explanation of a change;
- ``downgrades``: the threshold, cycle and single checks, retention, the next time-driven check;
- ``quotas``: the offsets ``keep`` writes when the rules change (配额);
- ``preview``: what a rule change, a recalculate / keep choice or a deletion would do;
- ``ports``: what the services need from storage; ``service``: the use cases.
"""
