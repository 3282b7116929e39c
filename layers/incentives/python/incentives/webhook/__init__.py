"""The commerce webhook contract (SPEC §3.2): event models, the request signature, the audit port."""
