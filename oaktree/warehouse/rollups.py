"""Rollups: 5-minute, 1-hour and 1-day buckets of the 1-minute points, kept up to date incrementally.

Every bucket is computed from the 1-minute points (never from a finer rollup), because a p95
cannot be combined from smaller p95s. Columns per (series, bucket):

- avg, min, max, sum, count: over the bucket's 1-minute values; `count` is how many 1-minute
  points the bucket holds (not CloudWatch's SampleCount). Which column answers "the value of
  the bucket" depends on the statistic, as in CloudWatch: `sum` for Sum and SampleCount (the
  bucket's total), `avg` for Average (the mean of the minute averages), `max` for Maximum,
  `min` for Minimum. `MEANINGFUL_COLUMN` records that choice for the dashboard.
- p95: the 95th percentile (linear interpolation) of the 1-minute values, only for gauge-like
  statistics (Average, Maximum, Minimum). For Sum and SampleCount it is NULL: their 1-minute
  values are per-period totals, so a percentile of them changes with the collection period
  rather than describing the metric, and CloudWatch offers no percentile of a Sum either.

Incremental: the rollup remembers the newest version file of each 1-minute partition it has
rolled up. A partition with a newer version since (new points, a settling overlap re-read, a
late backfill) has its hour's 5-minute and 1-hour buckets and its day's 1-day bucket
recomputed and upserted by (resource_id, metric_name, statistic, bucket), so a run is
idempotent and a late point updates exactly the buckets it falls in. Each run also deletes
versions superseded longer than the grace period, in every resolution.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from oaktree.config import Settings
from oaktree.logs import get_logger
from oaktree.warehouse import layout
from oaktree.warehouse.files import locked, partition_lock, prune_superseded, write_merged_version
from oaktree.warehouse.layout import Partition, Resolution

log = get_logger(__name__)

_TS = pa.timestamp("ms", tz="UTC")

ROLLUP_SCHEMA = pa.schema(
    [
        pa.field("resource_id", pa.string(), nullable=False),
        pa.field("resource_type", pa.string(), nullable=False),
        pa.field("region", pa.string(), nullable=False),
        pa.field("metric_name", pa.string(), nullable=False),
        pa.field("statistic", pa.string(), nullable=False),
        pa.field("unit", pa.string(), nullable=False),
        pa.field("bucket", _TS, nullable=False),
        pa.field("avg", pa.float64(), nullable=False),
        pa.field("min", pa.float64(), nullable=False),
        pa.field("max", pa.float64(), nullable=False),
        pa.field("sum", pa.float64(), nullable=False),
        pa.field("count", pa.int64(), nullable=False),
        pa.field("p95", pa.float64()),
    ]
)
ROLLUP_KEY = ("resource_id", "metric_name", "statistic", "bucket")

PERCENTILE_STATISTICS = frozenset({"Average", "Maximum", "Minimum"})
MEANINGFUL_COLUMN = {"Sum": "sum", "SampleCount": "sum", "Average": "avg", "Maximum": "max", "Minimum": "min"}

BUCKET_INTERVAL = {
    Resolution.FIVE_MINUTES: "5 minutes",
    Resolution.HOUR: "1 hour",
    Resolution.DAY: "1 day",
}

_MANIFEST_FILE = "rollup-manifest.json"


def rollup_sql(source: str, resolution: Resolution) -> str:
    """Return a SELECT that aggregates the 1-minute points of `source` into buckets of `resolution`.

    Needs a connection whose TimeZone is UTC, so day buckets start at UTC midnight.
    """
    percentile_statistics = ", ".join(f"'{name}'" for name in sorted(PERCENTILE_STATISTICS))
    return f"""
    SELECT
        resource_id,
        arg_max(resource_type, ts) AS resource_type,
        arg_max(region, ts) AS region,
        metric_name,
        statistic,
        arg_max(unit, ts) AS unit,
        time_bucket(INTERVAL '{BUCKET_INTERVAL[resolution]}', ts) AS bucket,
        avg(value) AS avg,
        min(value) AS min,
        max(value) AS max,
        sum(value) AS sum,
        count(*) AS count,
        quantile_cont(value, 0.95) FILTER (WHERE statistic IN ({percentile_statistics})) AS p95
    FROM {source}
    GROUP BY resource_id, metric_name, statistic, bucket
    """


_UPSERT_SQL = f"""
SELECT {", ".join(ROLLUP_SCHEMA.names)} FROM (
    SELECT {", ".join(ROLLUP_SCHEMA.names)}, 1 AS priority FROM fresh WHERE bucket >= $start AND bucket < $end
    {{stored}}
)
QUALIFY row_number() OVER (PARTITION BY {", ".join(ROLLUP_KEY)} ORDER BY priority DESC) = 1
ORDER BY resource_id, metric_name, statistic, bucket
"""
_STORED_SQL = f"UNION ALL SELECT {', '.join(ROLLUP_SCHEMA.names)}, 0 AS priority FROM read_parquet($stored)"


@dataclasses.dataclass
class RollupReport:
    """What one rollup run did."""

    raw_partitions: int = 0  # 1-minute partitions new or changed since the previous run
    buckets: dict[str, int] = dataclasses.field(default_factory=lambda: {r.value: 0 for r in BUCKET_INTERVAL})
    partitions_written: int = 0
    days_skipped: int = 0  # day buckets left alone because their 1-minute points are partly expired
    versions_pruned: int = 0  # superseded version files deleted after their grace period

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict."""
        return dataclasses.asdict(self)


def _manifest_path(warehouse_dir: Path) -> Path:
    return layout.state_dir(warehouse_dir) / _MANIFEST_FILE


def _load_manifest(warehouse_dir: Path) -> dict[str, str]:
    path = _manifest_path(warehouse_dir)
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text())["rolled_up"])


def _save_manifest(warehouse_dir: Path, rolled_up: dict[str, str]) -> None:
    path = _manifest_path(warehouse_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"rolled_up": rolled_up}, sort_keys=True))
    os.replace(tmp, path)


def rollup_lock(warehouse_dir: Path) -> Any:
    """Return the lock that serialises rollups and retention (never two at once on one warehouse)."""
    return locked(layout.lock_dir(warehouse_dir) / "rollup.lock")


def _connect() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    return connection


@dataclasses.dataclass(frozen=True, slots=True)
class _RawHour:
    """A 1-minute partition and the version file this run reads."""

    partition: Partition
    newest: Path


def rollup(
    warehouse_dir: Path,
    *,
    since: datetime | None = None,
    now: datetime | None = None,
    raw_retention_days: int | None = None,
) -> RollupReport:
    """Recompute the buckets touched by new or changed 1-minute points; return what was done.

    `since` forces every bucket from that moment on to be recomputed, changed or not (a rebuild).
    With `raw_retention_days`, day buckets older than the 1-minute retention are never
    recomputed, because part of their points is already deleted.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    report = RollupReport()
    with rollup_lock(warehouse_dir):
        rolled_up = _load_manifest(warehouse_dir)
        seen: dict[str, str] = {}
        by_region: dict[str, list[_RawHour]] = defaultdict(list)
        dirty_by_region: dict[str, list[_RawHour]] = defaultdict(list)
        for partition in layout.list_partitions(warehouse_dir, Resolution.MINUTE):
            newest = partition.newest()
            if newest is None:
                continue
            hour = _RawHour(partition, newest)
            key = partition.directory.relative_to(warehouse_dir).as_posix()
            seen[key] = newest.name
            by_region[partition.region].append(hour)
            if (since is not None and partition.end > since) or rolled_up.get(key) != newest.name:
                dirty_by_region[partition.region].append(hour)

        day_cutoff = None if raw_retention_days is None else now - timedelta(days=raw_retention_days)
        with _connect() as connection:
            for region, dirty in sorted(dirty_by_region.items()):
                hours = by_region[region]
                _rollup_region(connection, warehouse_dir, region, dirty, hours, day_cutoff, report)
                report.raw_partitions += len(dirty)
        # Only partitions that still exist are remembered, so the manifest shrinks with retention.
        _save_manifest(warehouse_dir, seen)
        report.versions_pruned = _prune_all(warehouse_dir)
    log.info("rollup_done", **report.to_dict())
    return report


def _prune_all(warehouse_dir: Path) -> int:
    """Delete superseded versions past their grace in every resolution; return how many."""
    pruned = 0
    for resolution in Resolution:
        for partition in layout.list_partitions(warehouse_dir, resolution):
            with partition_lock(warehouse_dir, partition.directory):
                pruned += prune_superseded(partition.directory)
    return pruned


def _rollup_region(
    connection: duckdb.DuckDBPyConnection,
    warehouse_dir: Path,
    region: str,
    dirty: list[_RawHour],
    hours: list[_RawHour],
    day_cutoff: datetime | None,
    report: RollupReport,
) -> None:
    """Recompute one region's buckets over the dirty hours (5m, 1h) and their whole days (1d)."""
    dirty_files = [str(hour.newest) for hour in dirty]
    for resolution in (Resolution.FIVE_MINUTES, Resolution.HOUR):
        _compute_fresh(connection, resolution, dirty_files)
        _upsert_fresh(connection, warehouse_dir, resolution, region, report)

    days = {hour.partition.start.date() for hour in dirty}
    if day_cutoff is not None:
        kept = {day for day in days if datetime(day.year, day.month, day.day, tzinfo=UTC) >= day_cutoff}
        report.days_skipped += len(days) - len(kept)
        days = kept
    day_files = [str(hour.newest) for hour in hours if hour.partition.start.date() in days]
    if day_files:
        _compute_fresh(connection, Resolution.DAY, day_files)
        _upsert_fresh(connection, warehouse_dir, Resolution.DAY, region, report)


def _compute_fresh(connection: duckdb.DuckDBPyConnection, resolution: Resolution, files: list[str]) -> None:
    """Fill the temp table `fresh` with the buckets of `resolution` over the 1-minute `files`."""
    source = "read_parquet($files, hive_partitioning = false)"
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE fresh AS {rollup_sql(source, resolution)}", {"files": files}
    )


def _upsert_fresh(
    connection: duckdb.DuckDBPyConnection,
    warehouse_dir: Path,
    resolution: Resolution,
    region: str,
    report: RollupReport,
) -> None:
    """Merge the temp table `fresh` into the partitions of `resolution` it touches (new versions)."""
    buckets = [row[0] for row in connection.execute("SELECT DISTINCT bucket FROM fresh").fetchall()]
    starts = sorted({layout.partition_start(resolution, bucket) for bucket in buckets})
    for start in starts:
        partition = layout.partition_for(warehouse_dir, resolution, region, start)
        write_merged_version(
            connection,
            warehouse_dir,
            partition,
            merge_sql=_UPSERT_SQL,
            stored_sql=_STORED_SQL,
            params={"start": partition.start, "end": partition.end},
            schema=ROLLUP_SCHEMA,
        )
        report.partitions_written += 1
    report.buckets[resolution.value] += int(connection.execute("SELECT count(*) FROM fresh").fetchall()[0][0])


def rollup_warehouse(settings: Settings, *, since: datetime | None = None) -> RollupReport:
    """Run `rollup` on the configured warehouse with the configured 1-minute retention."""
    return rollup(
        settings.warehouse_dir,
        since=since,
        now=datetime.now(UTC),
        raw_retention_days=settings.warehouse_retention_1m_days,
    )
