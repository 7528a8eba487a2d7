"""Keeping the lake small and fast: retention, compaction, snapshot expiry and file cleanup.

All of it is DuckLake's own machinery, in the order that keeps every reader safe:

1. Retention deletes rows older than each table's retention (one transaction per table). The
   rows disappear from new snapshots at once; older snapshots, and queries running on them,
   still see them.
2. Compaction merges small adjacent files (each commit writes at least one) on a PostgreSQL
   catalog; the merged-away files stay until their snapshots expire. On the embedded SQLite
   catalog files are not merged: DuckLake reads a SQLite catalog without a read transaction,
   so a query running while a merge commits can count a table's rows from both sides of the
   merge (reproduced in tests/warehouse/test_concurrency.py). The embedded lake trades some
   read speed on long histories for never showing a reader a half-merged table.
3. Snapshots older than `warehouse_snapshot_retention_hours` are expired: time travel reaches
   that far back, and files only they used are scheduled for deletion.
4. Files scheduled for deletion more than `warehouse_file_grace_minutes` ago are deleted. A
   query reads one snapshot's files; the grace is far longer than any query runs, so no reader
   ever meets a missing file.

Both cut-offs are moved back to a UTC midnight (`whole_days_before`, for a DuckLake quirk on
SQLite catalogs), so each keeps up to two days more than configured, never less.
"""

from __future__ import annotations

import dataclasses
import functools
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from oaktree.config import Settings
from oaktree.logs import get_logger
from oaktree.warehouse import lake
from oaktree.warehouse.lake import LAKE
from oaktree.warehouse.schema import ANOMALIES, EVENTS, FORECASTS, Resolution, Table
from oaktree.warehouse.writes import in_transaction

log = get_logger(__name__)


def retention_days(settings: Settings) -> dict[Table, int]:
    """Return the configured days kept per table that has a retention."""
    return {
        Resolution.MINUTE.table: settings.warehouse_retention_1m_days,
        Resolution.FIVE_MINUTES.table: settings.warehouse_retention_5m_days,
        Resolution.HOUR.table: settings.warehouse_retention_1h_days,
        Resolution.DAY.table: settings.warehouse_retention_1d_days,
        EVENTS: settings.warehouse_retention_events_days,
        # Analytics findings are history like events, and kept as long: an anomaly row per
        # anomalous 5-minute point, 24 forecast rows per capacity series and day.
        ANOMALIES: settings.warehouse_retention_events_days,
        FORECASTS: settings.warehouse_retention_events_days,
    }


@dataclasses.dataclass
class RetentionReport:
    """What one retention run deleted, per table."""

    cutoffs: dict[str, datetime] = dataclasses.field(default_factory=dict)
    rows_deleted: dict[str, int] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict (datetimes as ISO strings)."""
        return {
            "cutoffs": {name: cutoff.isoformat() for name, cutoff in self.cutoffs.items()},
            "rows_deleted": dict(self.rows_deleted),
        }


def _delete_older_than(cursor: duckdb.DuckDBPyConnection, table: Table, cutoff: datetime) -> int:
    """Delete the rows of `table` older than `cutoff`; return how many there were."""
    where = f'WHERE "{table.time_column}" < ?'
    # Counting first: a DELETE that matches nothing would still write a snapshot.
    expired = int(
        cursor.execute(f"SELECT count(*) FROM {LAKE}.{table.name} {where}", [cutoff]).fetchall()[0][0]
    )
    if expired:
        cursor.execute(f"DELETE FROM {LAKE}.{table.name} {where}", [cutoff])
    return expired


def apply_retention(
    connection: duckdb.DuckDBPyConnection, *, now: datetime, days: dict[Table, int]
) -> RetentionReport:
    """Delete every row older than its table's retention (a transaction per table); return the counts."""
    report = RetentionReport()
    for table, kept_days in days.items():
        cutoff = now.astimezone(UTC) - timedelta(days=kept_days)
        report.cutoffs[table.name] = cutoff
        report.rows_deleted[table.name] = in_transaction(
            connection, functools.partial(_delete_older_than, table=table, cutoff=cutoff)
        )
    log.info("warehouse_retention_done", **report.to_dict())
    return report


@dataclasses.dataclass
class CompactionReport:
    """What one maintenance pass did to the lake's files and snapshots."""

    rows_flushed: int = 0
    merged: bool = False  # False on a SQLite catalog (see the module docstring)
    files_merged: int = 0
    files_written: int = 0
    snapshots_expired: int = 0
    files_deleted: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict."""
        return dataclasses.asdict(self)


def _call(connection: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[tuple]:
    """Run a DuckLake maintenance function in its own transaction (retried on conflicts)."""
    return in_transaction(connection, lambda cursor: cursor.execute(sql, params or []).fetchall())


def whole_days_before(moment: datetime) -> datetime:
    """Return the UTC midnight that starts the day before `moment`'s: a cut-off safe on every catalog.

    On a SQLite catalog DuckLake compares snapshot and scheduling times as text: its own
    '2026-12-04 17:08:34+00' against a filter written '2026-12-04T16:08:34'. When the dates are
    equal the space sorts before the 'T', so every time of the filter's own day counts as
    older, which would expire today's snapshots and delete files merged away a minute ago. With
    the filter at the midnight starting the previous day, what that day-long error lets through
    is still older than `moment`; a PostgreSQL catalog compares times properly and merely keeps
    a day more. Either way nothing is removed before its time, at the cost of keeping up to two
    days longer than configured.
    """
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)


def compact(
    connection: duckdb.DuckDBPyConnection,
    *,
    now: datetime,
    snapshot_retention: timedelta,
    file_grace: timedelta,
    merge_files: bool = True,
) -> CompactionReport:
    """Flush inlined rows, merge small files, expire old snapshots and delete files past the grace."""
    report = CompactionReport(merged=merge_files)
    flushed = _call(connection, f"SELECT rows_flushed FROM ducklake_flush_inlined_data('{LAKE}')")
    report.rows_flushed = sum(int(row[0]) for row in flushed)
    if merge_files:
        merged = _call(connection, f"SELECT files_processed FROM ducklake_merge_adjacent_files('{LAKE}')")
        report.files_merged = sum(int(row[0]) for row in merged)
        report.files_written = len(merged)
    expired = _call(
        connection,
        f"SELECT * FROM ducklake_expire_snapshots('{LAKE}', older_than => ?)",
        [whole_days_before(now - snapshot_retention)],
    )
    report.snapshots_expired = len(expired)
    deleted = _call(
        connection,
        f"SELECT * FROM ducklake_cleanup_old_files('{LAKE}', older_than => ?)",
        [whole_days_before(now - file_grace)],
    )
    report.files_deleted = len(deleted)
    log.info("warehouse_compaction_done", **report.to_dict())
    return report


def apply_configured_retention(settings: Settings, *, now: datetime | None = None) -> RetentionReport:
    """Apply the configured retention of every table to the configured lake."""
    connection = lake.open_for_writing(settings)
    try:
        return apply_retention(connection, now=now or datetime.now(UTC), days=retention_days(settings))
    finally:
        connection.close()


def compact_configured(settings: Settings, *, now: datetime | None = None) -> CompactionReport:
    """Run `compact` on the configured lake with the configured snapshot retention and file grace."""
    connection = lake.open_for_writing(settings)
    try:
        return compact(
            connection,
            now=now or datetime.now(UTC),
            snapshot_retention=timedelta(hours=settings.warehouse_snapshot_retention_hours),
            file_grace=timedelta(minutes=settings.warehouse_file_grace_minutes),
            merge_files=lake.lake_location(settings).sqlite_file is None,
        )
    finally:
        connection.close()
