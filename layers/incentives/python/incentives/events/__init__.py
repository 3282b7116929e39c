"""Routing of queued events to the domain areas that consume them."""
