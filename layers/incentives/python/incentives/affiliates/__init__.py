"""Affiliates (微客 / 推广员): settings, becoming one, binding, commissions, withdrawals."""
