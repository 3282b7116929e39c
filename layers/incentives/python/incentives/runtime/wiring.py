"""Adapters built once per container from the settings (the composition root of the layer)."""

from __future__ import annotations

from functools import cache

from incentives.orders.aggregate import AfterSalesWindow
from incentives.runtime import aws
from incentives.runtime.settings import settings
from incentives.storage.orders import DynamoOrderRepository
from incentives.storage.queue import SqsEventQueue
from incentives.storage.raw_events import DynamoRawEventStore


@cache
def order_repository() -> DynamoOrderRepository:
    return DynamoOrderRepository(aws.dynamodb(), settings().table_name)


@cache
def raw_event_store() -> DynamoRawEventStore:
    return DynamoRawEventStore(aws.dynamodb(), settings().table_name)


@cache
def event_queue() -> SqsEventQueue:
    return SqsEventQueue(aws.sqs(), settings().events_queue_url)


def after_sales_window() -> AfterSalesWindow:
    return AfterSalesWindow(days=settings().after_sales_window_days)


def reset() -> None:
    """Forget every cached adapter and setting (the local runtime and tests switch stacks)."""
    from incentives.runtime.settings import settings as cached_settings

    aws.reset()
    cached_settings.cache_clear()
    for factory in (order_repository, raw_event_store, event_queue):
        factory.cache_clear()
