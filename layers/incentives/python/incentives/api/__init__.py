"""HTTP concerns shared by every API handler: one error format, one exception mapping."""
