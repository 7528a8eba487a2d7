"""The warehouse: DuckLake tables of inventory, events, points and rollups, and one way to read them.

- `schema`: every table defined once (columns, docs, key, layout).
- `lake`: where the lake lives, attaching it (`connect`), creating its tables.
- `writes`: transactions retried on commit conflicts; upserts on each table's key.
- `points`: `write_points`, landing collected 1-minute points.
- `rollups`: 5-minute / 1-hour / 1-day buckets, kept up to date from the change feed.
- `maintenance`: retention, compaction, snapshot expiry and file cleanup.
- `read`: the read functions everything else uses.

A notebook needs two lines: `from oaktree.warehouse import connect; con = connect()`.
"""

from __future__ import annotations

from typing import Any

from oaktree.warehouse.errors import WarehouseError, WarehouseNotFound

__all__ = ["WarehouseError", "WarehouseNotFound", "connect"]


def __getattr__(name: str) -> Any:
    # `connect` loads DuckDB; resolving it on first use keeps `import oaktree.warehouse` (and the
    # CLI's start) free of that cost.
    if name == "connect":
        from oaktree.warehouse.lake import connect

        return connect
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
