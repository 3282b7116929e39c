"""Customers added through WeCom (external contacts): WeCom callbacks applied to bindings, outlets
and the org (seed 002). The WeCom API itself is ``incentives.wecom``."""
