"""Rollups: exact bucket values, idempotence, late points, rebuilds, expired days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from oaktree.warehouse import layout
from oaktree.warehouse.layout import Resolution
from oaktree.warehouse.points import write_points
from oaktree.warehouse.rollups import rollup
from oaktree.warehouse.views import build_warehouse
from tests.warehouse.builders import T0, minute, points


def _buckets(warehouse_dir: Path, resolution: Resolution) -> list[tuple]:
    """Return (resource_id, statistic, bucket, avg, min, max, sum, count, p95) through the view."""
    database = warehouse_dir.parent / "check.duckdb"
    build_warehouse(warehouse_dir=warehouse_dir, database_path=database)
    with duckdb.connect() as connection:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute(f"ATTACH '{database}' AS w (READ_ONLY)")
        return connection.execute(
            f"SELECT resource_id, statistic, bucket, avg, min, max, sum, count, p95 FROM w.{resolution.view} "
            "ORDER BY ALL"
        ).fetchall()


def test_five_minute_buckets_have_exact_aggregates(warehouse_dir: Path) -> None:
    write_points(warehouse_dir, points([10, 20, 30, 40, 50, 60, 70]))  # 00:00..00:06
    write_points(warehouse_dir, points([1, 2, 3], statistic="Sum", metric_name="NetworkIn", unit="Bytes"))

    report = rollup(warehouse_dir)

    assert report.raw_partitions == 1
    assert report.buckets == {"5m": 3, "1h": 2, "1d": 2}
    rows = _buckets(warehouse_dir, Resolution.FIVE_MINUTES)
    assert rows[:2] == [
        ("i-0001", "Average", T0, 30.0, 10.0, 50.0, 150.0, 5, pytest.approx(48.0)),
        ("i-0001", "Average", minute(5), 65.0, 60.0, 70.0, 130.0, 2, pytest.approx(69.5)),
    ]
    # Sum: the bucket total is the meaningful figure; a percentile of per-minute totals is not kept.
    assert rows[2] == ("i-0001", "Sum", T0, 2.0, 1.0, 3.0, 6.0, 3, None)


def test_hour_and_day_buckets_come_from_the_minute_points(warehouse_dir: Path) -> None:
    write_points(warehouse_dir, points(range(1, 121)))  # 00:00..01:59, values 1..120
    write_points(warehouse_dir, points([1000], start=T0 + timedelta(hours=5)))

    rollup(warehouse_dir)

    assert _buckets(warehouse_dir, Resolution.HOUR) == [
        ("i-0001", "Average", T0, 30.5, 1.0, 60.0, 1830.0, 60, pytest.approx(57.05)),
        ("i-0001", "Average", T0 + timedelta(hours=1), 90.5, 61.0, 120.0, 5430.0, 60, pytest.approx(117.05)),
        ("i-0001", "Average", T0 + timedelta(hours=5), 1000.0, 1000.0, 1000.0, 1000.0, 1, 1000.0),
    ]
    assert _buckets(warehouse_dir, Resolution.DAY) == [
        ("i-0001", "Average", T0, 8260.0 / 121, 1.0, 1000.0, 8260.0, 121, 115.0),
    ]


def test_a_second_run_without_new_points_does_nothing(warehouse_dir: Path) -> None:
    write_points(warehouse_dir, points([1, 2, 3]))
    rollup(warehouse_dir)
    before = _buckets(warehouse_dir, Resolution.FIVE_MINUTES)
    files_before = sorted((warehouse_dir / "metrics").rglob("*.parquet"))

    report = rollup(warehouse_dir)

    assert (report.raw_partitions, report.partitions_written) == (0, 0)
    assert sorted((warehouse_dir / "metrics").rglob("*.parquet")) == files_before
    assert _buckets(warehouse_dir, Resolution.FIVE_MINUTES) == before


def test_a_late_point_updates_only_its_buckets(warehouse_dir: Path) -> None:
    write_points(warehouse_dir, points([10] * 10))  # 00:00..00:09
    rollup(warehouse_dir)

    write_points(warehouse_dir, points([40], start=minute(7)))  # a settled revision of 00:07
    report = rollup(warehouse_dir)

    assert report.raw_partitions == 1
    assert _buckets(warehouse_dir, Resolution.FIVE_MINUTES) == [
        ("i-0001", "Average", T0, 10.0, 10.0, 10.0, 50.0, 5, 10.0),
        ("i-0001", "Average", minute(5), 16.0, 10.0, 40.0, 80.0, 5, pytest.approx(34.0)),
    ]
    assert _buckets(warehouse_dir, Resolution.DAY)[0][3:8] == (13.0, 10.0, 40.0, 130.0, 10)


def test_since_rebuilds_buckets_from_that_time(warehouse_dir: Path) -> None:
    write_points(warehouse_dir, points([1, 2]))
    write_points(warehouse_dir, points([3], start=T0 + timedelta(hours=3)))
    rollup(warehouse_dir)

    report = rollup(warehouse_dir, since=T0 + timedelta(hours=2))

    assert report.raw_partitions == 1
    assert report.buckets == {"5m": 1, "1h": 1, "1d": 1}


def test_days_older_than_the_minute_retention_are_not_recomputed(warehouse_dir: Path) -> None:
    write_points(warehouse_dir, points([5, 7]))

    report = rollup(warehouse_dir, now=T0 + timedelta(days=20), raw_retention_days=15)

    assert report.days_skipped == 1
    assert report.buckets == {"5m": 1, "1h": 1, "1d": 0}
    assert _buckets(warehouse_dir, Resolution.DAY) == []


def test_buckets_land_in_day_month_and_year_partitions_per_region(warehouse_dir: Path) -> None:
    batch = pa.concat_tables(
        [
            points([1], start=datetime(2024, 12, 31, 23, 59, tzinfo=UTC)),
            points([2], start=datetime(2025, 1, 1, 0, 0, tzinfo=UTC), region="eu-west-1"),
        ]
    )
    write_points(warehouse_dir, batch)

    rollup(warehouse_dir)

    folders = {
        resolution.value: sorted(
            p.directory.relative_to(layout.resolution_dir(warehouse_dir, resolution)).as_posix()
            for p in layout.list_partitions(warehouse_dir, resolution)
        )
        for resolution in layout.ROLLUP_RESOLUTIONS
    }
    assert folders == {
        "5m": ["region=eu-west-1/date=2025-01-01", "region=us-east-1/date=2024-12-31"],
        "1h": ["region=eu-west-1/month=2025-01", "region=us-east-1/month=2024-12"],
        "1d": ["region=eu-west-1/year=2025", "region=us-east-1/year=2024"],
    }
