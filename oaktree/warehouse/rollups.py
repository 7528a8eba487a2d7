"""Rollups: 5-minute, 1-hour and 1-day buckets of the 1-minute points, kept up to date incrementally.

Every bucket is computed from the 1-minute points (never from a finer rollup), because a p95
cannot be combined from smaller p95s. Columns per (series, bucket):

- avg, min, max, sum, count: over the bucket's 1-minute values; `count` is how many 1-minute
  points the bucket holds (not CloudWatch's SampleCount). Which column answers "the value of
  the bucket" depends on the statistic, as in CloudWatch (`schema.MEANINGFUL_COLUMN`): `sum`
  for Sum and SampleCount, `avg` for Average, `max` for Maximum, `min` for Minimum.
- p95: the 95th percentile (linear interpolation) of the 1-minute values, only for gauge-like
  statistics (Average, Maximum, Minimum). For Sum and SampleCount it is NULL: their 1-minute
  values are per-period totals, so a percentile of them changes with the collection period
  rather than describing the metric, and CloudWatch offers no percentile of a Sum either.

Incremental, through DuckLake's change feed: `rollup_progress` holds the last lake snapshot
whose 1-minute changes are rolled up. A run reads the rows inserted or updated in `metrics`
since then (`ducklake_table_changes`), recomputes the 5-minute and 1-hour buckets of each
changed (series, hour) and the 1-day bucket of each changed (series, day), then upserts them
and moves the progress in one transaction: a crash or a conflict leaves nothing half done,
and a rerun recomputes nothing that did not change. Deletes (retention) are not changes
to roll up: the buckets of expired minutes stay, which is the point of keeping them longer.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from oaktree.config import Settings
from oaktree.logs import get_logger
from oaktree.warehouse import lake
from oaktree.warehouse.buckets import bucket_start_sql
from oaktree.warehouse.lake import LAKE
from oaktree.warehouse.schema import (
    METRICS,
    PERCENTILE_STATISTICS,
    ROLLUP_PROGRESS,
    ROLLUP_RESOLUTIONS,
    Resolution,
)
from oaktree.warehouse.writes import in_transaction, upsert_relation

log = get_logger(__name__)

HOUR_SECONDS = int(Resolution.HOUR.width.total_seconds())
DAY_SECONDS = int(Resolution.DAY.width.total_seconds())
PERIOD_SECONDS = {"hour": HOUR_SECONDS, "day": DAY_SECONDS}  # the periods rollups are recomputed by


def rollup_sql(source: str, resolution: Resolution) -> str:
    """Return a SELECT that aggregates the 1-minute points of `source` into buckets of `resolution`.

    Needs a connection whose TimeZone is UTC, so day buckets start at UTC midnight. A series'
    type, region, unit and account do not change, so any value of the bucket is the value (`any_value`
    costs a fraction of picking the newest).
    """
    percentile_statistics = ", ".join(f"'{name}'" for name in sorted(PERCENTILE_STATISTICS))
    return f"""
    SELECT
        resource_id,
        any_value(resource_type) AS resource_type,
        any_value(region) AS region,
        metric_name,
        statistic,
        any_value(unit) AS unit,
        {bucket_start_sql("ts", int(resolution.width.total_seconds()))} AS bucket,
        avg(value) AS avg,
        min(value) AS min,
        max(value) AS max,
        sum(value) AS sum,
        count(*) AS count,
        quantile_cont(value, 0.95) FILTER (WHERE statistic IN ({percentile_statistics})) AS p95,
        any_value(account_id) AS account_id
    FROM {source}
    GROUP BY resource_id, metric_name, statistic, bucket
    """


@dataclasses.dataclass
class RollupReport:
    """What one rollup run did."""

    from_snapshot: int | None = None  # None: everything was (re)built
    stored_progress: int | None = None  # the progress as this run found it
    to_snapshot: int | None = None
    changed_series_hours: int = 0
    buckets: dict[str, int] = dataclasses.field(
        default_factory=lambda: {r.value: 0 for r in ROLLUP_RESOLUTIONS}
    )
    days_skipped: int = 0  # day buckets left alone because their 1-minute points are partly expired

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict."""
        return dataclasses.asdict(self)


def _changes_available(cursor: duckdb.DuckDBPyConnection, from_snapshot: int) -> bool:
    """Return True if the change feed still reaches back to `from_snapshot` (not expired)."""
    rows = cursor.execute(f"SELECT count(*) FROM {LAKE}.snapshots() WHERE snapshot_id = ?", [from_snapshot])
    return bool(rows.fetchall()[0][0])


def _stage_changed_hours(
    cursor: duckdb.DuckDBPyConnection, report: RollupReport, since: datetime | None
) -> None:
    """Fill the temp table `_changed_hours` (series and hour) that this run must recompute."""
    report.to_snapshot = int(cursor.execute(f"SELECT id FROM {LAKE}.current_snapshot()").fetchall()[0][0])
    progress = cursor.execute(
        f"SELECT snapshot_id FROM {ROLLUP_PROGRESS.name} WHERE source_table = ?", [METRICS.name]
    ).fetchall()
    report.stored_progress = int(progress[0][0]) if progress else None
    report.from_snapshot = report.stored_progress if since is None else None
    series_hour = f"resource_id, metric_name, statistic, {bucket_start_sql('ts', HOUR_SECONDS)} AS hour"
    if report.from_snapshot is not None and not _changes_available(cursor, report.from_snapshot):
        log.warning("rollup_changes_expired", from_snapshot=report.from_snapshot)
        report.from_snapshot = None
    if report.from_snapshot is None:
        where = "WHERE ts >= $since" if since is not None else ""
        source = f"SELECT DISTINCT {series_hour} FROM {METRICS.name} {where}"
        params: dict[str, Any] = {"since": since} if since is not None else {}
    elif report.from_snapshot >= report.to_snapshot:
        source, params = f"SELECT DISTINCT {series_hour} FROM {METRICS.name} WHERE false", {}
    else:
        source = (
            f"SELECT DISTINCT {series_hour} FROM ducklake_table_changes('{LAKE}', 'main', '{METRICS.name}', "
            "$first, $last) WHERE change_type IN ('insert', 'update_postimage')"
        )
        params = {"first": report.from_snapshot + 1, "last": report.to_snapshot}
    cursor.execute(f"CREATE OR REPLACE TEMP TABLE _changed_hours AS {source}", params)
    report.changed_series_hours = int(cursor.execute("SELECT count(*) FROM _changed_hours").fetchall()[0][0])


def _points_of(periods: str, period_column: str, period_width: str) -> str:
    """Return a SELECT of the 1-minute points of the (series, period) rows of the temp table `periods`."""
    return f"""(
        SELECT m.* FROM {METRICS.name} m
        SEMI JOIN {periods} p
          ON m.resource_id = p.resource_id AND m.metric_name = p.metric_name
         AND m.statistic = p.statistic
         AND {bucket_start_sql("m.ts", PERIOD_SECONDS[period_width])} = p.{period_column}
        WHERE m.ts >= (SELECT min({period_column}) FROM {periods})
          AND m.ts < (SELECT max({period_column}) FROM {periods}) + INTERVAL 1 {period_width}
    )"""


def _compute_buckets(
    cursor: duckdb.DuckDBPyConnection, report: RollupReport, since: datetime | None, day_cutoff: datetime
) -> None:
    """Fill the temp tables `_fresh_<resolution>` with the buckets of every changed (series, hour)."""
    _stage_changed_hours(cursor, report, since)
    hourly_points = _points_of("_changed_hours", "hour", "hour")
    for resolution in (Resolution.FIVE_MINUTES, Resolution.HOUR):
        buckets = rollup_sql(hourly_points, resolution)
        cursor.execute(f"CREATE OR REPLACE TEMP TABLE _fresh_{resolution.value} AS {buckets}")
    # A day bucket needs the whole day's points: days partly past the 1-minute retention are skipped.
    cursor.execute(
        "CREATE OR REPLACE TEMP TABLE _changed_days AS SELECT DISTINCT resource_id, metric_name, "
        f"statistic, {bucket_start_sql('hour', DAY_SECONDS)} AS day FROM _changed_hours"
    )
    report.days_skipped = int(
        cursor.execute(
            "SELECT count(DISTINCT day) FROM _changed_days WHERE day < ?", [day_cutoff]
        ).fetchall()[0][0]
    )
    cursor.execute("DELETE FROM _changed_days WHERE day < ?", [day_cutoff])
    daily_points = _points_of("_changed_days", "day", "day")
    cursor.execute(f"CREATE OR REPLACE TEMP TABLE _fresh_1d AS {rollup_sql(daily_points, Resolution.DAY)}")


class _ProgressMoved(Exception):
    """Another rollup committed after this one computed its buckets: compute again."""


def _store_buckets(cursor: duckdb.DuckDBPyConnection, report: RollupReport) -> RollupReport:
    """Upsert the computed buckets and move the progress, if no other rollup moved it meanwhile."""
    progress = cursor.execute(
        f"SELECT snapshot_id FROM {ROLLUP_PROGRESS.name} WHERE source_table = ?", [METRICS.name]
    ).fetchall()
    if (int(progress[0][0]) if progress else None) != report.stored_progress:
        raise _ProgressMoved
    for resolution in ROLLUP_RESOLUTIONS:
        report.buckets[resolution.value] = upsert_relation(
            cursor, resolution.table, f"_fresh_{resolution.value}", in_key_order=True
        )
    cursor.execute(
        f"MERGE INTO {ROLLUP_PROGRESS.name} AS target "
        "USING (SELECT ? AS source_table, ? AS snapshot_id, now() AS rolled_up_at) AS source "
        "ON (target.source_table = source.source_table) "
        "WHEN MATCHED THEN UPDATE WHEN NOT MATCHED THEN INSERT",
        [METRICS.name, report.to_snapshot],
    )
    return report


# A rollup that keeps losing to other rollups (not to collection) gives up after this many rounds.
_MAX_ROUNDS = 5
# Storing the buckets takes longer than a collection commit and loses its commit to every one
# made meanwhile (on a SQLite catalog a stale read cannot become a write): it retries longer.
STORE_ATTEMPTS = 30


def rollup(
    connection: duckdb.DuckDBPyConnection,
    *,
    since: datetime | None = None,
    now: datetime | None = None,
    raw_retention_days: int = 15,
) -> RollupReport:
    """Bring the rollups up to date with the 1-minute points; return what was recomputed.

    `since` recomputes every bucket from that moment on, changed or not (a rebuild). Day buckets
    older than the 1-minute retention are never recomputed: part of their points is gone.

    The buckets are computed outside any transaction (reads only), then stored in a short one:
    a long transaction would keep losing its commit to collection's frequent small ones. Points
    that changed after the computation are rolled up by the next run (the progress stops at the
    snapshot the changes were read up to); a rollup that committed in between makes this one
    compute again, so stale buckets never overwrite fresher ones.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    # A day that starts before this moment has lost points to the 1-minute retention.
    day_cutoff = now - timedelta(days=raw_retention_days)
    for _ in range(_MAX_ROUNDS):
        report = RollupReport()
        _compute_buckets(connection, report, since, day_cutoff)
        if not report.changed_series_hours:
            # Nothing to store, not even the progress: this run's own commit would be the next
            # run's "change", and the next run simply looks at the same range again.
            break
        try:
            report = in_transaction(
                connection,
                lambda cursor, report=report: _store_buckets(cursor, report),
                attempts=STORE_ATTEMPTS,
            )
            break
        except _ProgressMoved:
            log.info("rollup_progress_moved", to_snapshot=report.to_snapshot)
    else:
        raise RuntimeError(f"rollup lost to concurrent rollups {_MAX_ROUNDS} times; run it again")
    for name in ("_changed_hours", "_changed_days", *(f"_fresh_{r.value}" for r in ROLLUP_RESOLUTIONS)):
        connection.execute(f"DROP TABLE IF EXISTS {name}")
    log.info("rollup_done", **report.to_dict())
    return report


def rollup_warehouse(settings: Settings, *, since: datetime | None = None) -> RollupReport:
    """Run `rollup` on the configured warehouse with the configured 1-minute retention."""
    connection = lake.open_for_writing(settings)
    try:
        return rollup(connection, since=since, raw_retention_days=settings.warehouse_retention_1m_days)
    finally:
        connection.close()
