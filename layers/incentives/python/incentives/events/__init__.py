"""The event backbone: a webhook delivery or a fact put on the inbound events queue, and each queued
event handed to the consumers subscribed to its type (``dispatch``, ``consumers``)."""
