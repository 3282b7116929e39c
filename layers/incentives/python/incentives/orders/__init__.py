"""The order aggregate: what the merchant's order system told us, in any arrival order."""

DEFAULT_AFTER_SALES_WINDOW_DAYS = 7
"""Days after completion a refund may still be asked for (维权期); also the template's default."""
