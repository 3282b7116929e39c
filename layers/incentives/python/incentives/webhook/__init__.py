"""The commerce webhook contract (SPEC §3.2): event models and the request signature."""
