"""The ledger's refusals: the balance rules of SPEC §5, raised by whichever store enforces them."""

from __future__ import annotations

from incentives.core.errors import Conflict


class InsufficientBalance(Conflict):
    """The withdrawable balance cannot carry the amount (a withdrawal, a payout): nothing written."""

    code = "insufficient_balance"


class Overdraft(Conflict):
    """A posting would take a bucket below zero (a payout beyond its reserve, a reversal beyond
    what is pending): refused, nothing written. Only a recorded clawback may overdraw ``settled``."""

    code = "overdraft"
