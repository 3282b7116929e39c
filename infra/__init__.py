"""Deployment configuration and the local runtime."""
