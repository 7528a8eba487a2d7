"""The event log: every event goes to DynamoDB (the operational record) and to the warehouse.

DynamoDB keeps the seed's events table for operational reads (one resource's events, newest
last, in one Query); the warehouse's `events` table serves analysis and the dashboard's
timelines. Both are keyed by (resource_id, event_key), so a retried write stores nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from oaktree import aws
from oaktree.config import Settings
from oaktree.events import Event
from oaktree.storage import tables
from oaktree.storage.batch_writer import WriteStats, write_items
from oaktree.warehouse import lake
from oaktree.warehouse.schema import EVENTS
from oaktree.warehouse.writes import upsert


def _dynamodb_item(event: Event) -> dict[str, Any]:
    serializer = TypeSerializer()
    # DynamoDB numbers must be Decimal; details carry only small numbers and strings.
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
    if event.account_id:
        document["account_id"] = event.account_id
    return {name: serializer.serialize(value) for name, value in document.items()}


def warehouse_rows(events: Sequence[Event]) -> pa.Table:
    """Return events as rows of the warehouse's `events` table."""
    return pa.Table.from_pylist(
        [
            {
                **event.to_record(),
                "ts": event.timestamp,
                "event_key": tables.event_key(event.timestamp_ms, event.event_id),
                "details": json.dumps(event.details, default=str, sort_keys=True),
            }
            for event in events
        ],
        schema=EVENTS.arrow_schema(),
    )


def record_events(settings: Settings, events: Sequence[Event]) -> WriteStats:
    """Store events in the DynamoDB events table, then in the warehouse; return DynamoDB's write stats."""
    if not events:
        return WriteStats()
    stats = write_items(
        aws.client("dynamodb", settings.storage_region),
        settings.events_table,
        (_dynamodb_item(event) for event in events),
        (tables.EVENTS_TABLE.partition_key, tables.EVENTS_TABLE.sort_key),
    )
    connection = lake.open_for_writing(settings)
    try:
        upsert(connection, EVENTS, warehouse_rows(events))
    finally:
        connection.close()
    return stats


def read_resource_events(settings: Settings, resource_id: str) -> list[dict[str, Any]]:
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
