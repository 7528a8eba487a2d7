"""Landing collected 1-minute points in the warehouse: one partition per region and hour.

Collection re-reads a settling overlap (CloudWatch revises the last minutes) and retries
backfill windows, so the same point arrives more than once. `write_points` merges a batch into
the partitions it touches, keeping one row per (resource_id, metric_name, statistic, ts): the
newest value wins, so the warehouse converges to CloudWatch's settled values.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from oaktree.logs import get_logger
from oaktree.points import POINT_SCHEMA
from oaktree.warehouse import layout
from oaktree.warehouse.files import write_merged_version

log = get_logger(__name__)

POINT_KEY = ("resource_id", "metric_name", "statistic", "ts")
_COLUMNS = ", ".join(POINT_SCHEMA.names)

# Rows of the batch outrank stored rows (priority), and a later row of the batch outranks an
# earlier one (seq); QUALIFY keeps the top row per point key.
_MERGE_SQL = f"""
SELECT {_COLUMNS} FROM (
    SELECT {_COLUMNS}, 1 AS priority, seq FROM incoming
    WHERE region = $region AND ts >= $start AND ts < $end
    {{stored}}
)
QUALIFY row_number() OVER (PARTITION BY {", ".join(POINT_KEY)} ORDER BY priority DESC, seq DESC) = 1
ORDER BY resource_id, metric_name, statistic, ts
"""
_STORED_SQL = f"UNION ALL SELECT {_COLUMNS}, 0 AS priority, 0 AS seq FROM read_parquet($stored)"


def conform_points(points: pa.Table) -> pa.Table:
    """Return `points` with exactly POINT_SCHEMA's columns and types; raise ValueError if it cannot."""
    missing = [name for name in POINT_SCHEMA.names if name not in points.column_names]
    if missing:
        raise ValueError(f"points lack column(s): {', '.join(missing)}")
    columns = []
    for field in POINT_SCHEMA:
        column = points.column(field.name)
        if column.null_count:
            raise ValueError(f"points have {column.null_count} null value(s) in {field.name}")
        columns.append(column.cast(field.type))
    return pa.Table.from_arrays(columns, schema=POINT_SCHEMA)


def _connect() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    # Hour boundaries are UTC boundaries whatever the host's zone.
    connection.execute("SET TimeZone = 'UTC'")
    return connection


def write_points(warehouse_dir: Path, points: pa.Table) -> int:
    """Merge points (POINT_SCHEMA) into their hourly partitions; return the distinct points written.

    Each touched partition gets a new version (stored points merged with the batch) under its
    lock, so two writers of one region and hour (two workers, a retry racing its original)
    never lose each other's points.
    """
    if points.num_rows == 0:
        return 0
    incoming = conform_points(points).append_column("seq", pa.array(range(points.num_rows), pa.int64()))
    written = 0
    with _connect() as connection:
        connection.register("incoming", incoming)
        partitions = connection.sql(
            f"SELECT region, date_trunc('hour', ts) AS hour, count(DISTINCT ({', '.join(POINT_KEY)})) "
            "FROM incoming GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        for region, _, _ in partitions:
            layout.check_region(region)
        for region, hour, batch_rows in partitions:
            partition = layout.partition_for(warehouse_dir, layout.Resolution.MINUTE, region, hour)
            merged = write_merged_version(
                connection,
                warehouse_dir,
                partition,
                merge_sql=_MERGE_SQL,
                stored_sql=_STORED_SQL,
                params={"region": region, "start": partition.start, "end": partition.end},
                schema=POINT_SCHEMA,
            )
            written += batch_rows
            log.debug("points_partition_written", partition=str(partition.directory), rows=merged.num_rows)
    return written
