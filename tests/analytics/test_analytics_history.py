"""History, week over week, rankings and heatmaps against the known lake (exact numbers)."""

from __future__ import annotations

import math
from datetime import timedelta

import duckdb
import pytest

from oaktree.analytics import history
from tests.analytics.conftest import END, MONDAY

# i-b's weekly mean: the mean hour of day (11.5) plus 50 on one day in seven.
BRAVO_MEAN = 11.5 + 50 / 7


def test_history_reads_the_minute_points_of_a_short_range_with_names(
    known_lake: duckdb.DuckDBPyConnection,
) -> None:
    frame = history.history(
        known_lake,
        resource_ids=["i-a", "i-b"],
        metric_name="CPUUtilization",
        statistic="Average",
        start=END - timedelta(hours=2),
        end=END,
    )

    assert len(frame) == 240
    assert set(frame["resolution"]) == {"1m"}
    alpha = frame[frame["resource_id"] == "i-a"]
    assert set(alpha["name"]) == {"alpha"} and set(alpha["value"]) == {30.0}
    # The last two hours of a Sunday: hours 22 and 23.
    assert sorted(set(frame[frame["resource_id"] == "i-b"]["value"])) == [22.0, 23.0]


def test_history_of_two_weeks_reads_hourly_buckets(known_lake: duckdb.DuckDBPyConnection) -> None:
    frame = history.history(
        known_lake,
        resource_ids=["arn:t"],
        metric_name="ConsumedReadCapacityUnits",
        statistic="Sum",
        start=MONDAY,
        end=END,
    )

    assert set(frame["resolution"]) == {"1h"}
    assert len(frame) == 14 * 24
    assert set(frame["value"]) == {120.0}  # a Sum bucket's value is its sum: 60 minutes x 2
    assert set(frame["name"]) == {"orders"}


def test_period_over_period_compares_this_week_with_last_per_resource(
    known_lake: duckdb.DuckDBPyConnection,
) -> None:
    frame = history.period_over_period(
        known_lake, metric_name="CPUUtilization", statistic="Average", end=END
    ).set_index("resource_id")

    assert list(frame.index) == ["i-a", "i-b", "i-c"]  # largest increase first, no previous last
    assert frame.loc["i-a", ["current", "previous", "change", "change_pct"]].tolist() == [30, 10, 20, 200]
    assert frame.loc["i-a", "name"] == "alpha"
    assert frame.loc["i-b", "current"] == pytest.approx(BRAVO_MEAN)
    assert frame.loc["i-b", "change"] == pytest.approx(0)
    assert frame.loc["i-b", "current_peak"] == 73.0  # 23:00 on a Monday
    assert frame.loc["i-c", "current"] == 5.0
    assert math.isnan(frame.loc["i-c", "previous"]) and math.isnan(frame.loc["i-c", "change_pct"])


def test_period_over_period_filters_by_region(known_lake: duckdb.DuckDBPyConnection) -> None:
    frame = history.period_over_period(
        known_lake, metric_name="CPUUtilization", statistic="Average", end=END, regions=["eu-west-1"]
    )

    assert frame["resource_id"].tolist() == ["i-c"]


def test_fleet_ranking_gives_top_n_and_percentiles(known_lake: duckdb.DuckDBPyConnection) -> None:
    top = history.fleet_ranking(
        known_lake, metric_name="CPUUtilization", statistic="Average", start=MONDAY, end=END, limit=2
    )

    assert top["resource_id"].tolist() == ["i-a", "i-b"]
    assert top["rank"].tolist() == [1, 2]
    assert top["mean"].tolist() == pytest.approx([20.0, BRAVO_MEAN])
    assert top["percentile"].tolist() == pytest.approx([100.0, 200 / 3])
    assert top.loc[0, "p95"] == 30.0 and top.loc[1, "peak"] == 73.0
    assert top["samples"].tolist() == [336, 336]


def test_fleet_ranking_lowest_first_by_peak(known_lake: duckdb.DuckDBPyConnection) -> None:
    bottom = history.fleet_ranking(
        known_lake,
        metric_name="CPUUtilization",
        statistic="Average",
        start=MONDAY,
        end=END,
        by="peak",
        lowest=True,
    )

    assert bottom["resource_id"].tolist() == ["i-c", "i-a", "i-b"]
    assert bottom["peak"].tolist() == [5.0, 30.0, 73.0]
    assert bottom["percentile"].tolist() == pytest.approx([100 / 3, 200 / 3, 100.0])


def test_fleet_ranking_refuses_an_unknown_order(known_lake: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ValueError, match="mean, p95 or peak"):
        history.fleet_ranking(
            known_lake, metric_name="CPUUtilization", statistic="Average", start=MONDAY, end=END, by="median"
        )


def test_heatmap_by_hour_of_day_and_day_of_week(known_lake: duckdb.DuckDBPyConnection) -> None:
    heatmap = history.utilisation_heatmap(
        known_lake,
        metric_name="CPUUtilization",
        statistic="Average",
        start=MONDAY,
        end=END,
        resource_ids=["i-b"],
    )

    assert len(heatmap) == 7 * 24
    cell = heatmap.set_index(["day_of_week", "hour_of_day"])
    assert cell.loc[(0, 5), "value"] == 55.0 and cell.loc[(0, 5), "day_name"] == "Monday"
    assert cell.loc[(3, 5), "value"] == 5.0
    assert set(heatmap["samples"]) == {2}  # two weeks: each cell twice
    grid = history.as_grid(heatmap)
    assert grid.shape == (7, 24)
    assert grid.loc["Monday", 23] == 73.0 and grid.loc["Sunday", 0] == 0.0


def test_heatmap_keeps_empty_cells(known_lake: duckdb.DuckDBPyConnection) -> None:
    heatmap = history.utilisation_heatmap(
        known_lake,
        metric_name="CPUUtilization",
        statistic="Average",
        start=MONDAY,
        end=MONDAY + timedelta(hours=2),
        resource_ids=["i-a"],
    )

    assert len(heatmap) == 7 * 24
    assert heatmap["value"].notna().sum() == 2
    assert heatmap.set_index(["day_of_week", "hour_of_day"]).loc[(0, 1), "value"] == 10.0
