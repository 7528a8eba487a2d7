"""Forecasts of capacity metrics: the next 24 hours with a 95 % interval, and days until a threshold.

- The hourly forecast is statsmodels' ETS model (additive error, damped additive trend and,
  with two days of history or more, an additive daily season of 24 hours): Holt-Winters with
  prediction intervals from the fitted model. Fitting is per series, in Python; the history
  each fit needs is read for the whole fleet in one query.
- "Days until threshold" is computed in DuckDB: a least-squares line through each series'
  daily peaks (the busiest hour of each day), extended until it reaches the metric's
  capacity threshold. A falling or flat trend has no such day (NULL); a peak already past it, 0.

Capacity metrics and their thresholds are `CAPACITY_SERIES`: CPU and memory at 80 %, and a
DynamoDB table's consumed capacity at 80 % of what is provisioned (none on demand).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from oaktree.warehouse.buckets import bucket_start_sql
from oaktree.warehouse.lake import cursor
from oaktree.warehouse.read import bucket_value_sql, in_list
from oaktree.warehouse.schema import FORECASTS, RESOURCES, Resolution

DAY_SECONDS = int(Resolution.DAY.width.total_seconds())

HORIZON_HOURS = 24
LOOKBACK = timedelta(days=14)
SEASON_HOURS = 24
# Fewer hours than this and no model is fitted: a line through a handful of points is a guess.
MIN_HISTORY_HOURS = 12
MIN_TREND_DAYS = 3
INTERVAL_ALPHA = 0.05
CAPACITY_SHARE = 0.8


@dataclasses.dataclass(frozen=True, slots=True)
class CapacitySeries:
    """A capacity-type series: its threshold is `percent_threshold`, or a share of provisioned capacity.

    `provisioned_column` names the inventory column holding the capacity per second; an hourly
    Sum reaches the threshold at CAPACITY_SHARE x that x 3600.
    """

    metric_name: str
    statistic: str
    percent_threshold: float | None = None
    provisioned_column: str | None = None


CAPACITY_SERIES = (
    CapacitySeries("CPUUtilization", "Average", percent_threshold=80.0),
    CapacitySeries("MemoryUtilization", "Average", percent_threshold=80.0),
    CapacitySeries("ConsumedReadCapacityUnits", "Sum", provisioned_column="read_capacity_units"),
    CapacitySeries("ConsumedWriteCapacityUnits", "Sum", provisioned_column="write_capacity_units"),
)


PERCENT_CEILING = 100.0
_PERCENT_METRICS = frozenset(
    series.metric_name for series in CAPACITY_SERIES if series.percent_threshold is not None
)


def _threshold_sql() -> str:
    """Return a CASE giving each (metric, statistic) row its threshold (columns of `resources` as r)."""
    cases = []
    for series in CAPACITY_SERIES:
        match = f"h.metric_name = '{series.metric_name}' AND h.statistic = '{series.statistic}'"
        if series.percent_threshold is not None:
            cases.append(f"WHEN {match} THEN {series.percent_threshold}")
        else:
            cases.append(f"WHEN {match} THEN {CAPACITY_SHARE} * r.{series.provisioned_column} * 3600")
    return f"CASE {' '.join(cases)} END"


def hourly_history(
    connection: duckdb.DuckDBPyConnection,
    *,
    end: datetime,
    lookback: timedelta = LOOKBACK,
    resource_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return the hourly values of every capacity series over `lookback` before `end`, with thresholds.

    Columns: resource_id, resource_type, region, metric_name, statistic, ts, value, threshold.
    """
    params: dict[str, Any] = {
        "start": end - lookback,
        "end": end,
        "series": [[series.metric_name, series.statistic] for series in CAPACITY_SERIES],
    }
    ids = in_list("h.resource_id", "ids", resource_ids, params)
    table = Resolution.HOUR.table.name
    with cursor(connection) as own:
        return own.execute(
            f"""
            SELECT h.resource_id, h.resource_type, h.region, h.metric_name, h.statistic,
                   h.bucket AS ts, {bucket_value_sql("h")} AS value, {_threshold_sql()} AS threshold
            FROM {table} h LEFT JOIN {RESOURCES.name} r USING (resource_id)
            WHERE h.bucket >= $start AND h.bucket < $end AND {ids}
              AND (h.metric_name, h.statistic) IN (SELECT (s[1], s[2]) FROM unnest($series) AS u(s))
            ORDER BY h.resource_id, h.metric_name, h.statistic, h.bucket
            """,
            params,
        ).df()


def days_until_threshold(
    connection: duckdb.DuckDBPyConnection,
    *,
    end: datetime,
    lookback: timedelta = LOOKBACK,
    resource_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return, per capacity series, the trend of its daily peaks and the days until it reaches its threshold.

    Columns: resource_id, metric_name, statistic, threshold, days (of history), latest_peak
    (the trend's value on the last day), slope_per_day, days_until_threshold (NULL: not
    rising towards it, or no threshold).
    """
    history = hourly_history(connection, end=end, lookback=lookback, resource_ids=resource_ids)
    with duckdb.connect() as local:
        local.execute("SET TimeZone = 'UTC'")
        local.register("hourly", history)
        return local.execute(
            f"""
            WITH peaks AS (
                SELECT resource_id, metric_name, statistic, {bucket_start_sql("ts", DAY_SECONDS)} AS day,
                       max(value) AS peak, any_value(threshold) AS threshold
                FROM hourly GROUP BY ALL
            ), trend AS (
                SELECT resource_id, metric_name, statistic, any_value(threshold) AS threshold,
                       count(*) AS days, regr_slope(peak, epoch(day) / 86400) AS slope_per_day,
                       regr_intercept(peak, epoch(day) / 86400) + regr_slope(peak, epoch(day) / 86400)
                           * max(epoch(day) / 86400) AS latest_peak
                FROM peaks GROUP BY ALL HAVING count(*) >= $min_days
            )
            SELECT resource_id, metric_name, statistic, threshold, days, latest_peak, slope_per_day,
                   CASE WHEN threshold IS NULL THEN NULL
                        WHEN latest_peak >= threshold THEN 0.0
                        WHEN slope_per_day > 0 THEN (threshold - latest_peak) / slope_per_day
                   END AS days_until_threshold
            FROM trend ORDER BY days_until_threshold NULLS LAST, resource_id, metric_name
            """,
            {"min_days": MIN_TREND_DAYS},
        ).df()


def forecast_series(
    values: pd.Series, *, horizon: int = HORIZON_HOURS, ceiling: float | None = None
) -> pd.DataFrame:
    """Return the next `horizon` hours of an hourly series (indexed by UTC hour) with a 95 % interval.

    Columns: ts, forecast, lower, upper, model. Empty when the series is shorter than
    MIN_HISTORY_HOURS. Missing hours are interpolated first (ETS needs a regular series).
    Values are never forecast below 0 (every capacity metric is a count or a percentage), nor
    above `ceiling` (100 for a percentage).
    """
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    hourly = values.sort_index().asfreq("h").interpolate(limit_direction="both").astype(float)
    if len(hourly) < MIN_HISTORY_HOURS:
        return pd.DataFrame(columns=["ts", "forecast", "lower", "upper", "model"])
    seasonal = len(hourly) >= 2 * SEASON_HOURS
    model = ETSModel(
        hourly.reset_index(drop=True),
        error="add",
        trend="add",
        damped_trend=True,
        seasonal="add" if seasonal else None,
        seasonal_periods=SEASON_HOURS if seasonal else None,
        # Estimating the 24 starting seasonal states by maximum likelihood costs seconds per
        # series; statsmodels' heuristic start (from the first two days) costs milliseconds and
        # forecasts within noise of it (bench_analytics measures the error).
        initialization_method="heuristic" if seasonal else "estimated",
    )
    with warnings.catch_warnings():
        # A flat series or a short one makes the optimiser warn about convergence; the fit
        # is still the best it found, and the interval shows how uncertain it is.
        warnings.simplefilter("ignore")
        fitted = model.fit(disp=False)
        prediction = fitted.get_prediction(start=len(hourly), end=len(hourly) + horizon - 1)
        frame = prediction.summary_frame(alpha=INTERVAL_ALPHA)
    first = hourly.index[-1] + pd.Timedelta(hours=1)
    high = np.inf if ceiling is None else ceiling
    return pd.DataFrame(
        {
            "ts": pd.date_range(first, periods=horizon, freq="h"),
            "forecast": np.clip(frame["mean"].to_numpy(), 0.0, high),
            "lower": np.clip(frame["pi_lower"].to_numpy(), 0.0, high),
            "upper": np.clip(frame["pi_upper"].to_numpy(), 0.0, high),
            "model": f"ETS(A,Ad,{'A' if seasonal else 'N'})"
            + (f" period {SEASON_HOURS}" if seasonal else ""),
        }
    )


def forecast_fleet(
    connection: duckdb.DuckDBPyConnection,
    *,
    end: datetime,
    lookback: timedelta = LOOKBACK,
    horizon: int = HORIZON_HOURS,
    resource_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return 24-hour forecasts of every capacity series from its history before `end`.

    Columns: those of the `forecasts` table (resource_id, resource_type, region, metric_name,
    statistic, made_at, ts, forecast, lower, upper, model, threshold, days_until_threshold).
    """
    history = hourly_history(connection, end=end, lookback=lookback, resource_ids=resource_ids)
    outlook = days_until_threshold(connection, end=end, lookback=lookback, resource_ids=resource_ids)
    outlook = outlook.set_index(["resource_id", "metric_name", "statistic"])["days_until_threshold"]
    frames = []
    keys = ["resource_id", "resource_type", "region", "metric_name", "statistic"]
    for key, series in history.groupby(keys, sort=True):
        ceiling = PERCENT_CEILING if key[3] in _PERCENT_METRICS else None
        forecast = forecast_series(series.set_index("ts")["value"], horizon=horizon, ceiling=ceiling)
        if forecast.empty:
            continue
        for name, value in zip(keys, key, strict=True):
            forecast[name] = value
        forecast["made_at"] = end
        forecast["threshold"] = series["threshold"].iloc[-1]
        forecast["days_until_threshold"] = outlook.get((key[0], key[3], key[4]), np.nan)
        frames.append(forecast)
    if not frames:
        return pd.DataFrame(columns=FORECASTS.column_names)
    return pd.concat(frames, ignore_index=True)[FORECASTS.column_names]
