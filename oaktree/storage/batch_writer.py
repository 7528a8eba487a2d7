"""BatchWriteItem done right: at most 25 items a call, no duplicate keys in a batch, nothing dropped.

DynamoDB rejects a whole batch if two requests share a key, and returns what it could not write
as `UnprocessedItems`; those are retried with exponential backoff and full jitter until written
(or until `max_attempts`, when `UnwrittenItemsError` says exactly how many were left).
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from oaktree.logs import get_logger

BATCH_WRITE_LIMIT = 25  # DynamoDB's documented maximum of put/delete requests per call

Item = dict[str, Any]  # low-level attribute values: {"resource_id": {"S": "i-123"}, ...}

log = get_logger(__name__)


class UnwrittenItemsError(RuntimeError):
    """Some items were still unprocessed after every retry."""

    def __init__(self, table_name: str, unwritten: int) -> None:
        super().__init__(f"{unwritten} item(s) could not be written to {table_name} after retries")
        self.unwritten = unwritten


@dataclasses.dataclass
class WriteStats:
    """What a write did: calls made, items written, duplicates collapsed, retries of unprocessed items."""

    calls: int = 0
    items_written: int = 0
    duplicates_dropped: int = 0
    unprocessed_retries: int = 0

    def add(self, other: WriteStats) -> None:
        """Accumulate another write's counts into this one."""
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


def _batches(
    items: Iterable[Item], key_attributes: tuple[str, str], stats: WriteStats
) -> Iterator[list[Item]]:
    """Yield batches of up to 25 items with unique keys; a later item with the same key wins."""
    batch: dict[tuple[str, ...], Item] = {}
    partition_key, sort_key = key_attributes
    for item in items:
        key = (*item[partition_key].values(), *item[sort_key].values())
        if key in batch:
            stats.duplicates_dropped += 1
        elif len(batch) == BATCH_WRITE_LIMIT:
            yield list(batch.values())
            batch = {}
        batch[key] = item
    if batch:
        yield list(batch.values())


def backoff_delay(attempt: int, *, base: float = 0.05, cap: float = 5.0) -> float:
    """Return a full-jitter exponential backoff delay for retry number `attempt` (0-based)."""
    return random.uniform(0, min(cap, base * 2**attempt))


def write_items(
    client: Any,
    table_name: str,
    items: Iterable[Item],
    key_attributes: tuple[str, str],
    *,
    stats: WriteStats | None = None,
    max_attempts: int = 10,
    sleep: Callable[[float], None] = time.sleep,
) -> WriteStats:
    """Write items with BatchWriteItem, retrying UnprocessedItems; return (and accumulate into) stats."""
    stats = stats if stats is not None else WriteStats()
    for batch in _batches(items, key_attributes, stats):
        requests = [{"PutRequest": {"Item": item}} for item in batch]
        for attempt in range(max_attempts):
            stats.calls += 1
            response = client.batch_write_item(RequestItems={table_name: requests})
            unprocessed = response.get("UnprocessedItems", {}).get(table_name, [])
            stats.items_written += len(requests) - len(unprocessed)
            if not unprocessed:
                break
            stats.unprocessed_retries += 1
            requests = unprocessed
            sleep(backoff_delay(attempt))
        else:
            log.error("batch_write_gave_up", table=table_name, unwritten=len(requests))
            raise UnwrittenItemsError(table_name, len(requests))
    return stats
