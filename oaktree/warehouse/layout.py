"""Where the warehouse's files live under `$OAKTREE_DATA_DIR/warehouse/` (or an S3 prefix later).

Writers only ever add or atomically replace Parquet files; the DuckDB file holds views over
these paths, so notebooks can read while flows write.
"""

from __future__ import annotations

from pathlib import Path

RESOURCES = "resources"  # resources/inventory.parquet: the latest inventory snapshot
EVENTS = "events"  # events/date=YYYY-MM-DD/<run id>.parquet: inventory change events
METRICS = "metrics"  # metrics/... 1-minute points (layout owned by oaktree.warehouse.points)


def inventory_file(warehouse_dir: Path) -> Path:
    """Return the Parquet file holding the current inventory."""
    return warehouse_dir / RESOURCES / "inventory.parquet"


def events_dir(warehouse_dir: Path) -> Path:
    """Return the folder of the events' date partitions."""
    return warehouse_dir / EVENTS
