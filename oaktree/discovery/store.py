"""Where discovery keeps what it found: the inventory is the warehouse's `resources` table.

The dashboard, notebooks and the collector all read the same table; a save replaces it in one
transaction, so a reader sees the previous inventory or the new one, never a mix. Change events
go through `oaktree.eventlog` (DynamoDB and the warehouse).
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from oaktree.config import Settings
from oaktree.inventory import Resource
from oaktree.warehouse import lake, read
from oaktree.warehouse.schema import RESOURCES
from oaktree.warehouse.writes import replace_all


def load_inventory(settings: Settings) -> list[Resource]:
    """Return the inventory of the last discovery run (empty before the first)."""
    try:
        connection = lake.connect(read_only=True, settings=settings)
    except lake.WarehouseNotFound:
        return []
    try:
        records = read.inventory(connection).to_dict("records")
    finally:
        connection.close()
    return [Resource.from_record(_python_values(record)) for record in records]


def _python_values(record: dict[str, object]) -> dict[str, object]:
    """Turn pandas' missing values (NaN, NaT) back into None and timestamps into datetimes."""
    values: dict[str, object] = {}
    for name, value in record.items():
        if not isinstance(value, (dict, list)) and pd.isna(value):
            value = None
        elif isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        elif hasattr(value, "item"):  # a numpy scalar
            value = value.item()
        values[name] = value
    return values


def save_inventory(settings: Settings, resources: list[Resource]) -> int:
    """Replace the stored inventory with `resources`; return how many were saved."""
    rows = [resource.to_record() for resource in resources]
    for row in rows:
        row["tags"] = list(row["tags"].items())
    connection = lake.open_for_writing(settings)
    try:
        return replace_all(connection, RESOURCES, pa.Table.from_pylist(rows, schema=RESOURCES.arrow_schema()))
    finally:
        connection.close()
