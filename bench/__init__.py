"""Benchmarks of SPEC §6; each prints ratios measured side by side in one run."""
