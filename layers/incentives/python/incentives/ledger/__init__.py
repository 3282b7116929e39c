"""The append-only ledger of incentives: entries move amounts between buckets; balances are sums."""
