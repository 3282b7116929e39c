"""The platform subsidy ledger (seed 004, SPEC §4.6): WeChat Store's private-domain incentive plan.

Pure rules: campaigns (:mod:`.campaign`), scene attribution with its evidence (:mod:`.attribution`),
the figures on the settled amount (:mod:`.computation`), the per-order case that folds payments,
late signals, settlement and clawback (:mod:`.case`), reports (:mod:`.report`). What the rules
need from storage is in :mod:`.ports`; :mod:`.service` applies events through those ports.
"""
