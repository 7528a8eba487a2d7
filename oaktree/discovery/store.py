"""Where discovery keeps what it found.

- The inventory is one Parquet snapshot in the warehouse (`resources` view), replaced atomically,
  so the dashboard, notebooks and the collector all read the same file.
- Change events go to the DynamoDB events table (the seed's design, the operational record) and to
  the warehouse (`events` view) for analysis.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from oaktree import aws
from oaktree.config import Settings
from oaktree.discovery.changes import InventoryEvent
from oaktree.inventory import Resource
from oaktree.storage import tables
from oaktree.storage.batch_writer import WriteStats, write_items
from oaktree.warehouse import files, layout

_TS = pa.timestamp("ms", tz="UTC")

INVENTORY_SCHEMA = pa.schema(
    [
        pa.field("resource_id", pa.string(), nullable=False),
        pa.field("arn", pa.string(), nullable=False),
        pa.field("resource_type", pa.string(), nullable=False),
        pa.field("region", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("state", pa.string(), nullable=False),
        pa.field("tags", pa.map_(pa.string(), pa.string())),
        pa.field("first_seen", _TS),
        pa.field("last_seen", _TS),
        pa.field("instance_type", pa.string()),
        pa.field("vpc_id", pa.string()),
        pa.field("subnet_id", pa.string()),
        pa.field("availability_zone", pa.string()),
        pa.field("private_ip", pa.string()),
        pa.field("cluster", pa.string()),
        pa.field("desired_count", pa.int64()),
        pa.field("running_count", pa.int64()),
        pa.field("launch_type", pa.string()),
        pa.field("capacity_mode", pa.string()),
        pa.field("item_count", pa.int64()),
    ]
)

EVENT_SCHEMA = pa.schema(
    [
        pa.field("resource_id", pa.string(), nullable=False),
        pa.field("event_key", pa.string(), nullable=False),
        pa.field("ts", _TS, nullable=False),
        pa.field("event_type", pa.string(), nullable=False),
        pa.field("severity", pa.string(), nullable=False),
        pa.field("message", pa.string(), nullable=False),
        pa.field("region", pa.string(), nullable=False),
        pa.field("resource_type", pa.string(), nullable=False),
        pa.field("details", pa.string()),  # JSON text: DuckDB reads it with json_extract
    ]
)


def load_inventory(settings: Settings) -> list[Resource]:
    """Return the inventory of the last discovery run (empty before the first)."""
    path = layout.newest_version(layout.inventory_dir(settings.warehouse_dir))
    if path is None:
        return []
    records = pq.read_table(path).to_pylist()
    for record in records:
        record["tags"] = dict(record["tags"] or [])
    return [Resource.from_record(record) for record in records]


def save_inventory(settings: Settings, resources: list[Resource]) -> Path:
    """Write `resources` as the newest inventory snapshot; return the file written.

    Snapshots are new files, never rewritten in place (a DuckDB reader re-opens files by path
    while it scans); the `resources` view reads the newest, and old ones are pruned after a grace.
    """
    rows = [resource.to_record() for resource in resources]
    for row in rows:
        row["tags"] = list(row["tags"].items())
    table = pa.Table.from_pylist(rows, schema=INVENTORY_SCHEMA)
    directory = layout.inventory_dir(settings.warehouse_dir)
    with files.locked(layout.lock_dir(settings.warehouse_dir) / "inventory.lock"):
        path = files.write_version(table, directory)
        files.prune_superseded(directory)
    return path


def _event_item(event: InventoryEvent) -> dict[str, Any]:
    serializer = TypeSerializer()
    # DynamoDB numbers must be Decimal; details carry only small ints and strings.
    details = json.loads(json.dumps(event.details, default=str), parse_float=Decimal)
    document = {
        "resource_id": event.resource_id,
        "event_key": tables.event_key(event.timestamp_ms, event.event_id),
        "timestamp": event.timestamp_ms,
        "event_type": event.event_type,
        "message": event.message,
        "severity": event.severity,
        "details": details,
        "region": event.region,
        "resource_type": event.resource_type,
    }
    return {name: serializer.serialize(value) for name, value in document.items()}


def write_events(settings: Settings, events: list[InventoryEvent]) -> WriteStats:
    """Store events in the DynamoDB events table and the warehouse; return the DynamoDB write stats."""
    if not events:
        return WriteStats()
    stats = write_items(
        aws.client("dynamodb", settings.storage_region),
        settings.events_table,
        (_event_item(event) for event in events),
        (tables.EVENTS_TABLE.partition_key, tables.EVENTS_TABLE.sort_key),
    )
    _write_events_to_warehouse(settings, events)
    return stats


def _write_events_to_warehouse(settings: Settings, events: list[InventoryEvent]) -> None:
    by_date: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_date.setdefault(event.timestamp.astimezone(UTC).date().isoformat(), []).append(
            {
                "resource_id": event.resource_id,
                "event_key": tables.event_key(event.timestamp_ms, event.event_id),
                "ts": event.timestamp,
                "event_type": event.event_type,
                "severity": event.severity,
                "message": event.message,
                "region": event.region,
                "resource_type": event.resource_type,
                "details": json.dumps(event.details, default=str, sort_keys=True),
            }
        )
    # One new immutable file per run and date: nothing is rewritten, so readers never race a writer.
    run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{events[0].event_id[:8]}"
    for day, rows in by_date.items():
        path = layout.events_dir(settings.warehouse_dir) / f"date={day}" / f"{run_id}.parquet"
        files.replace_parquet(pa.Table.from_pylist(rows, schema=EVENT_SCHEMA), path)


def read_events(settings: Settings, resource_id: str) -> list[dict[str, Any]]:
    """Return one resource's events from the DynamoDB events table, oldest first."""
    deserializer = TypeDeserializer()
    pages = (
        aws.client("dynamodb", settings.storage_region)
        .get_paginator("query")
        .paginate(
            TableName=settings.events_table,
            KeyConditionExpression="resource_id = :r",
            ExpressionAttributeValues={":r": {"S": resource_id}},
        )
    )
    return [
        {name: deserializer.deserialize(value) for name, value in item.items()}
        for page in pages
        for item in page["Items"]
    ]
