"""Performance history across the fleet: series, week over week, rankings and heatmaps.

Each function is one DuckDB query over the resolution the range calls for (the rollups beyond a
day), so a page or a notebook gets a fleet-wide answer without pulling the points into Python.
Values are bucket values: the mean of a bucket for Average, its sum for Sum (`source`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from oaktree.analytics.source import metric_values_sql
from oaktree.warehouse import read
from oaktree.warehouse.buckets import day_of_week_sql, hour_of_day_sql
from oaktree.warehouse.lake import cursor
from oaktree.warehouse.schema import RESOURCES, Resolution

WEEK = timedelta(days=7)
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _query(connection: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> pd.DataFrame:
    with cursor(connection) as own:
        return own.execute(sql, params).df()


def history(
    connection: duckdb.DuckDBPyConnection,
    *,
    resource_ids: Sequence[str],
    metric_name: str,
    statistic: str,
    start: datetime,
    end: datetime,
    resolution: Resolution | None = None,
) -> pd.DataFrame:
    """Return one metric of one or many resources over `start`..`end` at the best resolution for the range.

    Columns: resource_id, name, ts, value, resolution. The same read as the dashboard's charts
    (`read.series`), with each resource's name from the inventory.
    """
    points = read.series(
        connection,
        resource_ids=resource_ids,
        metric_name=metric_name,
        statistic=statistic,
        start=start,
        end=end,
        resolution=resolution,
    )
    names = read.inventory(connection, resource_ids=list(resource_ids))[["resource_id", "name"]]
    merged = points.merge(names, on="resource_id", how="left")
    merged["name"] = merged["name"].fillna(merged["resource_id"])
    return merged[["resource_id", "name", "ts", "value", "resolution"]]


def period_over_period(
    connection: duckdb.DuckDBPyConnection,
    *,
    metric_name: str,
    statistic: str,
    end: datetime,
    period: timedelta = WEEK,
    resource_ids: Sequence[str] | None = None,
    resource_types: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    account_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return, per resource, the metric over the last `period` before `end` beside the period before it.

    Columns: resource_id, name, resource_type, region, current, previous (mean bucket values),
    change (current - previous), change_pct (NULL when previous is 0 or absent), current_peak,
    previous_peak. Largest increase first; a resource with no data in one period has NULLs there.
    """
    middle, start = end - period, end - 2 * period
    resolution = read.pick_resolution(start, end)
    params: dict[str, Any] = {"middle": middle}
    values = metric_values_sql(
        resolution,
        params,
        metric_name=metric_name,
        statistic=statistic,
        start=start,
        end=end,
        resource_ids=resource_ids,
        resource_types=resource_types,
        regions=regions,
        account_ids=account_ids,
    )
    return _query(
        connection,
        f"""
        SELECT p.resource_id, coalesce(r.name, p.resource_id) AS name, p.resource_type, p.region,
               p.current, p.previous, p.current - p.previous AS change,
               100 * (p.current - p.previous) / nullif(p.previous, 0) AS change_pct,
               p.current_peak, p.previous_peak
        FROM (
            SELECT resource_id, any_value(resource_type) AS resource_type, any_value(region) AS region,
                   avg(value) FILTER (WHERE ts >= $middle) AS current,
                   avg(value) FILTER (WHERE ts < $middle) AS previous,
                   max(value) FILTER (WHERE ts >= $middle) AS current_peak,
                   max(value) FILTER (WHERE ts < $middle) AS previous_peak
            FROM ({values}) GROUP BY resource_id
        ) p LEFT JOIN {RESOURCES.name} r USING (resource_id)
        ORDER BY change DESC NULLS LAST, p.resource_id
        """,
        params,
    )


def fleet_ranking(
    connection: duckdb.DuckDBPyConnection,
    *,
    metric_name: str,
    statistic: str,
    start: datetime,
    end: datetime,
    by: str = "mean",
    limit: int | None = None,
    lowest: bool = False,
    resource_types: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    account_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return the fleet ranked by a metric over `start`..`end`: top-N with `limit`, bottom-N with `lowest`.

    `by` is mean, p95 or peak (of the bucket values at the range's resolution). Columns:
    resource_id, name, resource_type, region, mean, p95, peak, samples, rank (1 = first in
    the order asked for) and percentile (0-100: the share of the fleet at or below this
    resource's `by` value, so 100 is the busiest whatever the order).
    """
    if by not in {"mean", "p95", "peak"}:
        raise ValueError(f"by must be mean, p95 or peak, not {by!r}")
    resolution = read.pick_resolution(start, end)
    params: dict[str, Any] = {"limit": limit}
    values = metric_values_sql(
        resolution,
        params,
        metric_name=metric_name,
        statistic=statistic,
        start=start,
        end=end,
        resource_types=resource_types,
        regions=regions,
        account_ids=account_ids,
    )
    order = "ASC" if lowest else "DESC"
    return _query(
        connection,
        f"""
        SELECT s.resource_id, coalesce(r.name, s.resource_id) AS name, s.resource_type, s.region,
               s.mean, s.p95, s.peak, s.samples,
               row_number() OVER (ORDER BY s.{by} {order}, s.resource_id) AS rank,
               100 * cume_dist() OVER (ORDER BY s.{by}) AS percentile
        FROM (
            SELECT resource_id, any_value(resource_type) AS resource_type, any_value(region) AS region,
                   avg(value) AS mean, quantile_cont(value, 0.95) AS p95, max(value) AS peak,
                   count(*) AS samples
            FROM ({values}) GROUP BY resource_id
        ) s LEFT JOIN {RESOURCES.name} r USING (resource_id)
        ORDER BY rank
        LIMIT coalesce($limit, 9223372036854775807)
        """,
        params,
    )


def utilisation_heatmap(
    connection: duckdb.DuckDBPyConnection,
    *,
    metric_name: str,
    statistic: str,
    start: datetime,
    end: datetime,
    resource_ids: Sequence[str] | None = None,
    resource_types: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    account_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return the metric by hour of day (UTC) and day of week, over the chosen resources, from hourly buckets.

    One row per cell of the 7 x 24 grid, empty cells included (value NULL): day_of_week
    (0 = Monday), day_name, hour_of_day (0-23), value (mean of the hourly values of every
    resource in that cell), peak, samples. `as_grid` turns it into a 7 x 24 table.
    """
    params: dict[str, Any] = {}
    values = metric_values_sql(
        Resolution.HOUR,
        params,
        metric_name=metric_name,
        statistic=statistic,
        start=start,
        end=end,
        resource_ids=resource_ids,
        resource_types=resource_types,
        regions=regions,
        account_ids=account_ids,
    )
    params["day_names"] = list(DAY_NAMES)
    return _query(
        connection,
        f"""
        WITH cells AS (
            SELECT {day_of_week_sql("ts")} AS day_of_week, {hour_of_day_sql("ts")} AS hour_of_day,
                   avg(value) AS value, max(value) AS peak, count(*) AS samples
            FROM ({values}) GROUP BY ALL
        ), grid AS (
            SELECT d.day_of_week, h.hour_of_day
            FROM range(7) d(day_of_week) CROSS JOIN range(24) h(hour_of_day)
        )
        SELECT g.day_of_week, $day_names[g.day_of_week + 1] AS day_name, g.hour_of_day,
               c.value, c.peak, coalesce(c.samples, 0) AS samples
        FROM grid g LEFT JOIN cells c USING (day_of_week, hour_of_day)
        ORDER BY g.day_of_week, g.hour_of_day
        """,
        params,
    )


def as_grid(heatmap: pd.DataFrame, column: str = "value") -> pd.DataFrame:
    """Return a heatmap (`utilisation_heatmap`) as a table: one row per day name, one column per hour."""
    grid = heatmap.pivot(index="day_of_week", columns="hour_of_day", values=column)
    grid.index = [DAY_NAMES[int(day)] for day in grid.index]
    return grid
