"""The messages of the inbound events queue: internal events and the queued message itself."""
