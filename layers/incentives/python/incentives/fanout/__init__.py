"""Scheduled fan-out: a job reads what is due from a sharded index and spreads it over SQS."""
