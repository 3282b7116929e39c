"""The WeChat Store (微信小店) connector: message pushes, the store's order and funds APIs, and
reconciliation of what the platform charged against the subsidy plan's expectations."""
