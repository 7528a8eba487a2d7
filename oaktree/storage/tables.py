"""The DynamoDB tables OakTree owns, defined once.

`oaktree bootstrap` creates them from these definitions; `infra/data.tf` declares the same
keys for production (a test compares the two).

Keys differ from the seed document on purpose (see README, "Data model"):
- metrics: the seed's (`resource_id`, `timestamp`) holds one item per resource per instant, so
  CPUUtilization and NetworkIn at 12:00 overwrite each other. The sort key `metric_key` is
  `<metric>#<statistic>#<epoch ms, 13 digits>`, so every (resource, metric, statistic, time)
  point is its own item, and one metric of one resource over a time range is one Query
  (`resource_id = :r AND metric_key BETWEEN :from AND :to`).
- events: the sort key `event_key` is `<epoch ms, 13 digits>#<random id>`, so two events of one
  resource in the same millisecond are both kept, still in time order.
The seed's `timestamp` attribute is kept on every item (a Number, epoch milliseconds).

Many accounts share these tables without a key change: a resource id is unique across accounts
(an instance id is never reused by AWS, in any account; ECS and DynamoDB ids are ARNs, which
name the account). Every item carries `account_id` as an attribute, as it carries `region`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from botocore.exceptions import ClientError

from oaktree import aws


@dataclasses.dataclass(frozen=True, slots=True)
class TableSpec:
    """Key schema and TTL attribute of one table."""

    partition_key: str
    sort_key: str
    ttl_attribute: str | None = None


METRICS_TABLE = TableSpec(partition_key="resource_id", sort_key="metric_key", ttl_attribute="expires_at")
EVENTS_TABLE = TableSpec(partition_key="resource_id", sort_key="event_key")

# Width of the zero-padded epoch-millisecond part of sort keys (enough until the year 2286).
EPOCH_MS_DIGITS = 13


# Sorts after every metric name, so no time-range Query of points ever returns a watermark item.
WATERMARK_PREFIX = "~watermark#"


def metric_key(series_name: str, statistic: str, timestamp_ms: int) -> str:
    """Return the metrics table sort key of one point."""
    return metric_key_prefix(series_name, statistic) + str(timestamp_ms).zfill(EPOCH_MS_DIGITS)


def metric_key_prefix(series_name: str, statistic: str) -> str:
    """Return the part of a point's sort key shared by every point of one series.

    The writer's hot loop appends `str(timestamp_ms).zfill(EPOCH_MS_DIGITS)` to it (see `metric_key`).
    """
    return f"{series_name}#{statistic}#"


def watermark_key(series_name: str, statistic: str) -> str:
    """Return the sort key of one series' watermark item."""
    return f"{WATERMARK_PREFIX}{series_name}#{statistic}"


def event_key(timestamp_ms: int, event_id: str) -> str:
    """Return the events table sort key of one event."""
    return f"{timestamp_ms:0{EPOCH_MS_DIGITS}d}#{event_id}"


def _create_table_request(name: str, spec: TableSpec) -> dict[str, Any]:
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": spec.partition_key, "AttributeType": "S"},
            {"AttributeName": spec.sort_key, "AttributeType": "S"},
        ],
        "KeySchema": [
            {"AttributeName": spec.partition_key, "KeyType": "HASH"},
            {"AttributeName": spec.sort_key, "KeyType": "RANGE"},
        ],
    }


def ensure_table(name: str, spec: TableSpec, region: str) -> bool:
    """Create one table (and its TTL) if it is missing; return True if it was created."""
    dynamodb = aws.client("dynamodb", region)
    try:
        dynamodb.create_table(**_create_table_request(name, spec))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
        return False
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    if spec.ttl_attribute:
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
        )
    return True


def ensure_tables(*, metrics_table: str, events_table: str, region: str) -> dict[str, bool]:
    """Create OakTree's tables if missing (idempotent); return which ones were created."""
    return {
        metrics_table: ensure_table(metrics_table, METRICS_TABLE, region),
        events_table: ensure_table(events_table, EVENTS_TABLE, region),
    }
