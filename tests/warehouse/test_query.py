"""Read helpers used by the dashboard and the CLI."""

from __future__ import annotations

from datetime import timedelta

from oaktree.config import Settings
from oaktree.warehouse.layout import Resolution
from oaktree.warehouse.points import write_points
from oaktree.warehouse.query import (
    connect_readonly,
    latest_point_time,
    metric_series,
    pick_resolution,
    points_count,
    view_counts,
)
from oaktree.warehouse.rollups import rollup
from tests.warehouse.builders import T0, minute, points


def test_counts_on_an_empty_warehouse(settings: Settings) -> None:
    assert points_count(settings) == 0
    assert latest_point_time(settings) is None
    assert set(view_counts(settings).values()) == {0}


def test_counts_and_latest_point(settings: Settings) -> None:
    write_points(settings.warehouse_dir, points([1, 2, 3]))
    write_points(settings.warehouse_dir, points([9], start=minute(2)))  # an overlap: still 3 points
    rollup(settings.warehouse_dir)

    assert points_count(settings) == 3
    assert latest_point_time(settings) == minute(2)
    assert view_counts(settings) == {
        "resources": 0,
        "events": 0,
        "metrics": 3,
        "metrics_5m": 1,
        "metrics_1h": 1,
        "metrics_1d": 1,
    }


def test_metric_series_reads_the_meaningful_column_per_statistic(settings: Settings) -> None:
    write_points(settings.warehouse_dir, points([1, 2, 3, 4, 5, 6], statistic="Sum", metric_name="NetworkIn"))
    write_points(settings.warehouse_dir, points([1, 2, 3, 4, 5, 6], statistic="Maximum"))
    rollup(settings.warehouse_dir)
    window = {"resource_id": "i-0001", "start": T0, "end": T0 + timedelta(minutes=10)}

    with connect_readonly(settings) as connection:
        raw = metric_series(connection, metric_name="NetworkIn", statistic="Sum", **window)
        sums = metric_series(
            connection, metric_name="NetworkIn", statistic="Sum", resolution=Resolution.FIVE_MINUTES, **window
        )
        maxima = metric_series(
            connection,
            metric_name="CPUUtilization",
            statistic="Maximum",
            resolution=Resolution.FIVE_MINUTES,
            **window,
        )

    assert raw["value"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert str(raw["ts"].dt.tz) == "UTC"
    assert list(zip(sums["ts"].tolist(), sums["value"].tolist(), strict=True)) == [
        (T0, 15.0),
        (minute(5), 6.0),
    ]
    assert maxima["value"].tolist() == [5.0, 6.0]


def test_pick_resolution_by_time_span() -> None:
    assert pick_resolution(T0, T0 + timedelta(hours=6)) is Resolution.MINUTE
    assert pick_resolution(T0, T0 + timedelta(days=2)) is Resolution.FIVE_MINUTES
    assert pick_resolution(T0, T0 + timedelta(days=30)) is Resolution.HOUR
    assert pick_resolution(T0, T0 + timedelta(days=365)) is Resolution.DAY
