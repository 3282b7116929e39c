"""Payouts: one per reward or approved withdrawal, deterministic id, exactly-once money movement."""
