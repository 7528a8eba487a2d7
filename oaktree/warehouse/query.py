"""Read helpers over the warehouse views, for the dashboard, the demo and the CLI.

Everything here reads through the analyst-facing DuckDB file opened read-only, the same way a
notebook does, so the dashboard exercises the documented contract.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pandas as pd

from oaktree.config import Settings
from oaktree.warehouse.layout import Resolution
from oaktree.warehouse.rollups import MEANINGFUL_COLUMN
from oaktree.warehouse.views import VIEWS, ensure_warehouse

# The finest resolution whose points over a time range still make a readable chart
# (about 300-2,000 points); beyond the last limit, daily buckets.
_RESOLUTION_LIMITS = (
    (timedelta(hours=12), Resolution.MINUTE),
    (timedelta(days=5), Resolution.FIVE_MINUTES),
    (timedelta(days=60), Resolution.HOUR),
)


def connect_readonly(settings: Settings) -> duckdb.DuckDBPyConnection:
    """Return a read-only connection to the warehouse file (created first if missing), in UTC.

    DuckDB shares one database instance per file within a process: a connection opened before
    the views were rebuilt keeps the previous views until every connection to it is closed.
    """
    path = ensure_warehouse(settings)
    connection = duckdb.connect(str(path), read_only=True)
    connection.execute("SET TimeZone = 'UTC'")  # timestamps come back as UTC, not the host's zone
    return connection


def points_count(settings: Settings) -> int:
    """Return how many 1-minute points the warehouse holds."""
    with connect_readonly(settings) as connection:
        return int(connection.execute("SELECT count(*) FROM metrics").fetchall()[0][0])


def view_counts(settings: Settings) -> dict[str, int]:
    """Return the row count of every documented view."""
    with connect_readonly(settings) as connection:
        return {
            view.name: int(connection.execute(f"SELECT count(*) FROM {view.name}").fetchall()[0][0])
            for view in VIEWS
        }


def latest_point_time(settings: Settings) -> datetime | None:
    """Return the time of the newest 1-minute point (UTC), or None on an empty warehouse."""
    with connect_readonly(settings) as connection:
        return connection.execute("SELECT max(ts) FROM metrics").fetchall()[0][0]


def pick_resolution(start: datetime, end: datetime) -> Resolution:
    """Return the resolution that charts the range `start`..`end` with a readable number of points."""
    span = end - start
    for limit, resolution in _RESOLUTION_LIMITS:
        if span <= limit:
            return resolution
    return Resolution.DAY


def metric_series(
    connection: duckdb.DuckDBPyConnection,
    *,
    resource_id: str,
    metric_name: str,
    statistic: str,
    start: datetime,
    end: datetime,
    resolution: Resolution | None = None,
) -> pd.DataFrame:
    """Return one series between `start` (inclusive) and `end` (exclusive) as columns ts, value.

    For bucket resolutions `value` is the column that means "the bucket's value" for the
    statistic (sum for Sum, max for Maximum, ...), so a chart reads the same at every zoom.
    """
    resolution = resolution or pick_resolution(start, end)
    if resolution is Resolution.MINUTE:
        time_column, value_column = "ts", "value"
    else:
        time_column, value_column = "bucket", MEANINGFUL_COLUMN.get(statistic, "avg")
    return connection.execute(
        f"SELECT {time_column} AS ts, {value_column} AS value FROM {resolution.view} "
        f"WHERE resource_id = $resource_id AND metric_name = $metric_name AND statistic = $statistic "
        f"AND {time_column} >= $start AND {time_column} < $end ORDER BY ts",
        {
            "resource_id": resource_id,
            "metric_name": metric_name,
            "statistic": statistic,
            "start": start,
            "end": end,
        },
    ).df()
