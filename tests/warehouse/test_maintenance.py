"""Retention, compaction, snapshot expiry and file cleanup: DuckLake's own machinery, safely ordered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from oaktree.config import Settings, load_settings
from oaktree.eventlog import warehouse_rows
from oaktree.events import Event
from oaktree.warehouse import maintenance
from oaktree.warehouse.lake import lake_location
from oaktree.warehouse.points import write_points
from oaktree.warehouse.schema import EVENTS, Resolution
from oaktree.warehouse.writes import upsert
from tests.warehouse.builders import T0, points


def _parquet_files(settings: Settings) -> list[Path]:
    return sorted(Path(lake_location(settings).data_path).rglob("*.parquet"))


def _count(connection: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(connection.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def test_retention_deletes_only_rows_older_than_each_tables_days(
    settings: Settings, lake: duckdb.DuckDBPyConnection
) -> None:
    write_points(settings, points([1, 2, 3], start=T0 - timedelta(days=16)))  # past 15 days
    write_points(settings, points([4, 5], start=T0 - timedelta(days=14)))  # within
    upsert(
        lake,
        EVENTS,
        warehouse_rows(
            [
                Event(
                    "i-1",
                    "ec2_instance",
                    "us-east-1",
                    "state_changed",
                    "info",
                    "old",
                    T0 - timedelta(days=500),
                ),
                Event(
                    "i-1", "ec2_instance", "us-east-1", "state_changed", "info", "new", T0 - timedelta(days=1)
                ),
            ]
        ),
    )

    report = maintenance.apply_retention(
        lake, now=T0, days={Resolution.MINUTE.table: 15, Resolution.DAY.table: 1825, EVENTS: 455}
    )

    assert report.rows_deleted == {"metrics": 3, "metrics_1d": 0, "events": 1}
    assert report.cutoffs["metrics"] == T0 - timedelta(days=15)
    assert _count(lake, "metrics") == 2
    assert lake.execute("SELECT message FROM events").fetchall() == [("new",)]


def test_retention_with_nothing_to_delete_commits_nothing(
    settings: Settings, lake: duckdb.DuckDBPyConnection
) -> None:
    write_points(settings, points([1]))
    snapshots = lake.execute("SELECT count(*) FROM lake.snapshots()").fetchall()

    maintenance.apply_retention(lake, now=T0, days=maintenance.retention_days(settings))

    assert lake.execute("SELECT count(*) FROM lake.snapshots()").fetchall() == snapshots


def test_retention_days_default_to_cloudwatch_and_are_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    days = {table.name: n for table, n in maintenance.retention_days(load_settings()).items()}
    assert days == {
        "metrics": 15,
        "metrics_5m": 63,
        "metrics_1h": 455,
        "metrics_1d": 1825,
        "events": 455,
        "anomalies": 455,
        "forecasts": 455,
    }

    monkeypatch.setenv("OAKTREE_WAREHOUSE_RETENTION_1M_DAYS", "3")
    assert maintenance.retention_days(load_settings())[Resolution.MINUTE.table] == 3


def test_compaction_merges_small_files_and_old_files_go_only_after_the_grace(
    settings: Settings, lake: duckdb.DuckDBPyConnection
) -> None:
    for minute_offset in range(0, 120, 20):  # six small commits of one day: six small files
        write_points(settings, points(range(20), start=T0 + timedelta(minutes=minute_offset)))
    files_before = _parquet_files(settings)
    rows_before = lake.execute("SELECT count(*), sum(value) FROM metrics").fetchall()
    now = datetime.now(UTC)

    report = maintenance.compact(
        lake, now=now, snapshot_retention=timedelta(hours=24), file_grace=timedelta(hours=1)
    )

    assert report.files_merged >= len(files_before)
    assert report.files_written >= 1
    # Nothing is older than the retention or the grace yet: the merged-away files are still there.
    assert report.snapshots_expired == 0
    assert report.files_deleted == 0
    assert set(files_before) <= set(_parquet_files(settings))
    assert lake.execute("SELECT count(*), sum(value) FROM metrics").fetchall() == rows_before

    # Three days later, with a zero grace, the snapshots are expired and their files deleted.
    later = maintenance.compact(
        lake, now=now + timedelta(days=3), snapshot_retention=timedelta(hours=24), file_grace=timedelta(0)
    )

    assert later.snapshots_expired >= 1
    assert later.files_deleted >= len(files_before)
    assert not set(files_before) & set(_parquet_files(settings))
    assert lake.execute("SELECT count(*), sum(value) FROM metrics").fetchall() == rows_before


def test_cutoffs_move_back_to_the_midnight_before_the_day_before() -> None:
    afternoon = datetime(2026, 12, 4, 17, 8, tzinfo=UTC)
    assert maintenance.whole_days_before(afternoon) == datetime(2026, 12, 3, tzinfo=UTC)


def test_time_travel_reaches_back_to_unexpired_snapshots(
    settings: Settings, lake: duckdb.DuckDBPyConnection
) -> None:
    write_points(settings, points([1]))
    first = lake.execute("SELECT id FROM lake.current_snapshot()").fetchall()[0][0]
    write_points(settings, points([2]))

    assert lake.execute(f"SELECT value FROM metrics AT (VERSION => {first})").fetchall() == [(1.0,)]
    assert lake.execute("SELECT value FROM metrics").fetchall() == [(2.0,)]
