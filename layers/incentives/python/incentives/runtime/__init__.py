"""Wiring for Lambda handlers: settings, secrets and adapters built once per container."""
