"""The APIs' answers as types: what a route returns, so its OpenAPI document carries the schema.

Answers the domain builds as models (``PayoutView``, ``RuleView``, ``Center`` …) are used as they
are. Answers the domain builds as plain dicts are described here as pydantic-validated
``TypedDict`` s: validating one keeps the dict as it is (a key left out stays out, a null stays a
null, a key added later passes through), so typing a route never changes what it answers.
Answers a route assembles (pages with their totals, small confirmations) are models with the
assembling in a classmethod, not in the handler.
"""
