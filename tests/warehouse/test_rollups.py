"""Rollups: exact bucket values, incremental from the change feed, late points, rebuilds, expired days."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from oaktree.config import Settings
from oaktree.warehouse import maintenance
from oaktree.warehouse.points import write_points
from oaktree.warehouse.rollups import RollupReport, rollup
from oaktree.warehouse.schema import Resolution
from tests.warehouse.builders import T0, minute, points
from tests.warehouse.conftest import snapshot_count


def roll(lake: duckdb.DuckDBPyConnection, **options: Any) -> RollupReport:
    """Run a rollup as of the day after T0 (inside the 1-minute retention) unless told otherwise."""
    return rollup(lake, **{"now": T0 + timedelta(days=1), **options})


def _buckets(connection: duckdb.DuckDBPyConnection, resolution: Resolution) -> list[tuple]:
    """Return (resource_id, statistic, bucket, avg, min, max, sum, count, p95) of one rollup table."""
    return connection.execute(
        f"SELECT resource_id, statistic, bucket, avg, min, max, sum, count, p95 FROM {resolution.table.name} "
        "ORDER BY ALL"
    ).fetchall()


def test_five_minute_buckets_have_exact_aggregates(
    settings: Settings, lake: duckdb.DuckDBPyConnection
) -> None:
    write_points(settings, points([10, 20, 30, 40, 50, 60, 70]))  # 00:00..00:06
    write_points(settings, points([1, 2, 3], statistic="Sum", metric_name="NetworkIn", unit="Bytes"))

    report = roll(lake)

    assert report.from_snapshot is None  # the first run rolls up everything
    assert report.changed_series_hours == 2
    assert report.buckets == {"5m": 3, "1h": 2, "1d": 2}
    rows = _buckets(lake, Resolution.FIVE_MINUTES)
    assert rows[:2] == [
        ("i-0001", "Average", T0, 30.0, 10.0, 50.0, 150.0, 5, pytest.approx(48.0)),
        ("i-0001", "Average", minute(5), 65.0, 60.0, 70.0, 130.0, 2, pytest.approx(69.5)),
    ]
    # Sum: the bucket total is the meaningful figure; a percentile of per-minute totals is not kept.
    assert rows[2] == ("i-0001", "Sum", T0, 2.0, 1.0, 3.0, 6.0, 3, None)


def test_hour_and_day_buckets_come_from_the_minute_points(
    settings: Settings, lake: duckdb.DuckDBPyConnection
) -> None:
    write_points(settings, points(range(1, 121)))  # 00:00..01:59, values 1..120
    write_points(settings, points([1000], start=T0 + timedelta(hours=5)))

    roll(lake)

    assert _buckets(lake, Resolution.HOUR) == [
        ("i-0001", "Average", T0, 30.5, 1.0, 60.0, 1830.0, 60, pytest.approx(57.05)),
        ("i-0001", "Average", T0 + timedelta(hours=1), 90.5, 61.0, 120.0, 5430.0, 60, pytest.approx(117.05)),
        ("i-0001", "Average", T0 + timedelta(hours=5), 1000.0, 1000.0, 1000.0, 1000.0, 1, 1000.0),
    ]
    assert _buckets(lake, Resolution.DAY) == [
        ("i-0001", "Average", T0, pytest.approx(8260.0 / 121), 1.0, 1000.0, 8260.0, 121, 115.0),
    ]


def test_a_second_run_without_new_points_writes_nothing(
    settings: Settings, lake: duckdb.DuckDBPyConnection
) -> None:
    write_points(settings, points([1, 2, 3]))
    first = roll(lake)
    before = _buckets(lake, Resolution.FIVE_MINUTES)
    snapshots = snapshot_count(lake)

    report = roll(lake)

    assert report.from_snapshot == first.to_snapshot
    assert report.changed_series_hours == 0
    assert snapshot_count(lake) == snapshots  # not even the progress moved
    assert _buckets(lake, Resolution.FIVE_MINUTES) == before


def test_a_late_point_updates_only_its_buckets(settings: Settings, lake: duckdb.DuckDBPyConnection) -> None:
    write_points(settings, points([10] * 10))  # 00:00..00:09
    write_points(settings, points([5] * 3, start=T0 + timedelta(hours=3)))  # another hour, untouched below
    first = roll(lake)

    write_points(settings, points([40], start=minute(7)))  # a settled revision of 00:07
    report = roll(lake)

    assert report.from_snapshot == first.to_snapshot
    assert report.changed_series_hours == 1
    assert report.buckets == {"5m": 2, "1h": 1, "1d": 1}
    assert _buckets(lake, Resolution.FIVE_MINUTES)[:2] == [
        ("i-0001", "Average", T0, 10.0, 10.0, 10.0, 50.0, 5, 10.0),
        ("i-0001", "Average", minute(5), 16.0, 10.0, 40.0, 80.0, 5, pytest.approx(34.0)),
    ]
    assert _buckets(lake, Resolution.DAY)[0][3:8] == (pytest.approx(145.0 / 13), 5.0, 40.0, 145.0, 13)


def test_since_rebuilds_buckets_from_that_time(settings: Settings, lake: duckdb.DuckDBPyConnection) -> None:
    write_points(settings, points([1, 2]))
    write_points(settings, points([3], start=T0 + timedelta(hours=3)))
    roll(lake)

    report = roll(lake, since=T0 + timedelta(hours=2))

    assert report.changed_series_hours == 1
    assert report.buckets == {"5m": 1, "1h": 1, "1d": 1}


def test_days_older_than_the_minute_retention_are_not_recomputed(
    settings: Settings, lake: duckdb.DuckDBPyConnection
) -> None:
    write_points(settings, points([5, 7]))

    report = roll(lake, now=T0 + timedelta(days=20), raw_retention_days=15)

    assert report.days_skipped == 1
    assert report.buckets == {"5m": 1, "1h": 1, "1d": 0}
    assert _buckets(lake, Resolution.DAY) == []


def test_retention_deleting_minutes_does_not_touch_their_buckets(
    settings: Settings, lake: duckdb.DuckDBPyConnection
) -> None:
    write_points(settings, points([5, 7]))
    roll(lake)
    before = _buckets(lake, Resolution.HOUR)

    maintenance.apply_retention(lake, now=T0 + timedelta(days=20), days={Resolution.MINUTE.table: 15})
    report = roll(lake, now=T0 + timedelta(days=20))

    assert report.changed_series_hours == 0  # deletes are not changes to roll up
    assert _buckets(lake, Resolution.HOUR) == before


def test_when_the_change_feed_has_expired_the_rollup_rebuilds(
    settings: Settings, lake: duckdb.DuckDBPyConnection
) -> None:
    write_points(settings, points([1, 2]))
    first = roll(lake)
    write_points(settings, points([9], start=minute(2)))
    # Expire every snapshot but the newest: the progress snapshot is gone from the feed.
    lake.execute("CALL ducklake_expire_snapshots('lake', older_than => now() + INTERVAL 1 DAY)")

    report = roll(lake)

    assert first.to_snapshot is not None
    assert report.from_snapshot is None  # rebuilt from the stored points instead
    assert _buckets(lake, Resolution.FIVE_MINUTES)[0][3:8] == (4.0, 1.0, 9.0, 12.0, 3)


def test_buckets_follow_utc_day_boundaries_across_regions(
    settings: Settings, lake: duckdb.DuckDBPyConnection
) -> None:
    batch = pa.concat_tables(
        [
            points([1, 2], start=T0 - timedelta(minutes=1)),  # 23:59 and 00:00
            points([3], start=T0, region="eu-west-1", resource_id="i-0002"),
        ]
    )
    write_points(settings, batch)

    roll(lake)

    days = lake.execute("SELECT resource_id, bucket, count FROM metrics_1d ORDER BY ALL").fetchall()
    assert days == [
        ("i-0001", T0 - timedelta(days=1), 1),
        ("i-0001", T0, 1),
        ("i-0002", T0, 1),
    ]
