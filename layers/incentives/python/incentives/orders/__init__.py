"""The order aggregate: what the merchant's order system told us, in any arrival order."""
