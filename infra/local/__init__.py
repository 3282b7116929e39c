"""The local runtime: the whole stack of template.yaml on one machine, no cloud account.

``python -m infra.local run`` starts an embedded AWS endpoint (moto, server mode) holding
the template's tables, queues and secrets; an API gateway on 127.0.0.1 serving the
template's routes through the real handlers; an SQS poller per event source mapping; a
scheduler for the template's schedules; and the sandbox servers of external services.
"""
