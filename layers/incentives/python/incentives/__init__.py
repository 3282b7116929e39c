"""Incentive engine for retail brands on WeCom / WeChat: the shared layer.

Sub-packages by kind: ``core`` (money, time, ids, errors: pure), ``orders`` (the order
aggregate: pure), ``webhook`` (commerce webhook contract: pure), ``storage`` (DynamoDB and
SQS adapters), ``runtime`` (settings and wiring for handlers), ``api`` (HTTP error mapping).
"""
