"""Benchmark (f): analytics quality and speed.

1. Anomaly detection precision and recall on the labelled synthetic fleet
   (`oaktree.analytics.synthetic`, fixed seed: planted spikes, level shifts and drifts over
   daily and weekly seasonality), at the default threshold and one either side of it.
2. Forecast error on held-out sandbox data: eight days of the sandbox fleet's CPU and memory
   (one region, computed with `sandbox.history`, landed and rolled up like collected points);
   the model is fitted on the first seven days and forecasts the eighth, hour by hour, beside
   two naive forecasts measured the same way: the same hour the day before (seasonal naive) and
   the last hour seen. MAPE per series, then the mean and median over series.
3. The time to analyse 1,000 resources x 14 days of 5-minute data (4 million points):
   anomaly scores, week over week, fleet ranking and heatmap (over hourly buckets built from
   the same data), read from the lake's files.

Run: `uv run python -m benchmarks bench_analytics`; `uv run python -m benchmarks.bench_analytics --series 100`
for a smoke run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from benchmarks.bench_collection import markdown
from oaktree.analytics import anomalies, forecasts, history, synthetic
from oaktree.config import load_settings
from oaktree.logs import configure_logging
from oaktree.warehouse.lake import LAKE, open_for_writing
from oaktree.warehouse.points import write_points
from oaktree.warehouse.rollups import rollup
from oaktree.warehouse.schema import Resolution
from sandbox.history import history_points, planned_resources
from sandbox.metric_generator import IncidentSchedule

SYNTHETIC_START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
SYNTHETIC_DAYS = 14
SANDBOX_END = datetime(2026, 3, 16, tzinfo=UTC)
SANDBOX_DAYS = 8


def _timed(run: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def _load_synthetic(connection: duckdb.DuckDBPyConnection, fleet: synthetic.LabelledFleet) -> None:
    """Insert the fleet's 5-minute buckets, and hourly buckets built from them, into the lake."""
    connection.register("_buckets", fleet.buckets)
    connection.execute(f"INSERT INTO {LAKE}.{Resolution.FIVE_MINUTES.table.name} SELECT * FROM _buckets")
    connection.unregister("_buckets")
    five, hour = Resolution.FIVE_MINUTES.table.name, Resolution.HOUR.table.name
    connection.execute(
        f"""
        INSERT INTO {LAKE}.{hour}
        SELECT resource_id, any_value(resource_type), any_value(region), metric_name, statistic,
               any_value(unit), time_bucket(INTERVAL 1 hour, bucket) AS hour, avg(avg), min(min), max(max),
               sum(sum), sum(count), quantile_cont(avg, 0.95), any_value(account_id)
        FROM {LAKE}.{five} GROUP BY resource_id, metric_name, statistic, hour
        """
    )


def detection_quality(series: int) -> list[dict[str, Any]]:
    """Return precision and recall rows on the labelled synthetic fleet, per threshold."""
    fleet = synthetic.labelled_fleet(series=series, days=SYNTHETIC_DAYS, start=SYNTHETIC_START, seed=7)
    rows = []
    with tempfile.TemporaryDirectory() as data_dir:
        connection = open_for_writing(load_settings(data_dir=Path(data_dir)))
        _load_synthetic(connection, fleet)
        end = SYNTHETIC_START + timedelta(days=SYNTHETIC_DAYS)
        for threshold in (4.0, anomalies.DEFAULT_THRESHOLD, 6.0):
            detection = replace(anomalies.DetectionSettings(), threshold=threshold)
            found = anomalies.find_anomalies(connection, start=SYNTHETIC_START, end=end, detection=detection)
            scores = synthetic.detection_scores(found, fleet.labels, points_scored=fleet.buckets.num_rows)
            rows.append(
                {
                    "threshold (spreads)": f"{threshold:g}"
                    + (" (default)" if threshold == anomalies.DEFAULT_THRESHOLD else ""),
                    "precision": f"{scores['precision']:.3f}",
                    "episode recall": f"{scores['episode_recall']:.3f}",
                    "spikes": f"{scores['recall_spike']:.2f}",
                    "level shifts": f"{scores['recall_level_shift']:.2f}",
                    "drifts": f"{scores['recall_drift']:.2f}",
                    "point recall": f"{scores['point_recall']:.3f}",
                    "false positives / point": f"{scores['false_positive_rate']:.1e}",
                }
            )
        connection.close()
    planted = fleet.labels["kind"].value_counts().to_dict()
    print(
        f"## (f1) Anomaly detection on the labelled synthetic fleet: {series} series x {SYNTHETIC_DAYS} days "
        f"of 5-minute points, seed 7; planted {len(fleet.labels)} ({planted})\n"
    )
    return rows


def _mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(np.abs(actual - predicted) / np.maximum(np.abs(actual), 1e-9)) * 100)


def forecast_error() -> tuple[list[dict[str, Any]], int]:
    """Return MAPE rows of the ETS forecast and two naive forecasts on the held-out sandbox day."""
    fleet = planned_resources(seed=42, region="us-east-1")
    start = SANDBOX_END - timedelta(days=SANDBOX_DAYS)
    points = history_points(
        seed=42,
        resources=fleet,
        start=start,
        end=SANDBOX_END,
        incidents=IncidentSchedule.around(SANDBOX_END),
        metric_names=["CPUUtilization", "MemoryUtilization"],
    )
    cutoff = SANDBOX_END - timedelta(days=1)
    with tempfile.TemporaryDirectory() as data_dir:
        settings = load_settings(data_dir=Path(data_dir))
        write_points(settings, points)
        connection = open_for_writing(settings)
        rollup(connection, now=SANDBOX_END)
        fit_seconds, predicted = _timed(lambda: forecasts.forecast_fleet(connection, end=cutoff))
        hourly = forecasts.hourly_history(connection, end=SANDBOX_END, lookback=timedelta(days=SANDBOX_DAYS))
        connection.close()
    keys = ["resource_id", "metric_name", "statistic"]
    errors: dict[str, list[float]] = {
        "ETS (Holt-Winters, damped trend, daily season)": [],
        "seasonal naive": [],
        "last value": [],
    }
    for key, series in hourly.groupby(keys):
        values = series.set_index("ts")["value"]
        actual = values[values.index >= cutoff]
        seen = values[values.index < cutoff]
        model = predicted[
            (predicted["resource_id"] == key[0])
            & (predicted["metric_name"] == key[1])
            & (predicted["statistic"] == key[2])
        ].set_index("ts")["forecast"]
        if len(actual) < 24 or model.empty:
            continue
        actual_values = actual.to_numpy()
        errors["ETS (Holt-Winters, damped trend, daily season)"].append(
            _mape(actual_values, model.reindex(actual.index).to_numpy())
        )
        errors["seasonal naive"].append(_mape(actual_values, seen.iloc[-24:].to_numpy()))
        errors["last value"].append(_mape(actual_values, np.full(len(actual_values), seen.iloc[-1])))
    series_count = len(errors["last value"])
    rows = [
        {
            "forecast": name,
            "MAPE mean over series (%)": f"{np.mean(values):.1f}",
            "MAPE median (%)": f"{np.median(values):.1f}",
            "series": len(values),
        }
        for name, values in errors.items()
    ]
    print(
        f"## (f2) 24-hour forecast error on a held-out sandbox day (us-east-1, seed 42: {series_count} "
        f"CPU and memory series, fitted on {SANDBOX_DAYS - 1} days; fitting all took {fit_seconds:.1f} s)\n"
    )
    return rows, series_count


def analysis_speed(series: int) -> list[dict[str, Any]]:
    """Return the time of each fleet analysis over `series` resources x 14 days of 5-minute data."""
    fleet = synthetic.labelled_fleet(series=series, days=SYNTHETIC_DAYS, start=SYNTHETIC_START, seed=11)
    end = SYNTHETIC_START + timedelta(days=SYNTHETIC_DAYS)
    common = {"metric_name": "CPUUtilization", "statistic": "Average"}
    with tempfile.TemporaryDirectory() as data_dir:
        connection = open_for_writing(load_settings(data_dir=Path(data_dir)))
        _load_synthetic(connection, fleet)
        runs = {
            "anomaly scores, bands (every 5-minute point)": lambda: anomalies.score_points(
                connection, start=SYNTHETIC_START, end=end
            ),
            "anomalies only (find_anomalies)": lambda: anomalies.find_anomalies(
                connection, start=SYNTHETIC_START, end=end
            ),
            "week over week per resource": lambda: history.period_over_period(connection, end=end, **common),
            "fleet ranking with percentiles": lambda: history.fleet_ranking(
                connection, start=SYNTHETIC_START, end=end, **common
            ),
            "hour x weekday heatmap": lambda: history.utilisation_heatmap(
                connection, start=SYNTHETIC_START, end=end, **common
            ),
        }
        rows = []
        for name, run in runs.items():
            seconds, result = _timed(run)
            rows.append({"analysis": name, "seconds": f"{seconds:.2f}", "rows returned": f"{len(result):,}"})
        one = fleet.buckets.slice(0, SYNTHETIC_DAYS * synthetic.BUCKETS_PER_DAY).to_pandas()
        hourly = one.set_index("bucket")["avg"].resample("1h").mean()
        seconds, _ = _timed(lambda: forecasts.forecast_series(hourly))
        rows.append(
            {
                "analysis": f"forecast of one series (ETS fit, x {series} for the fleet)",
                "seconds": f"{seconds:.2f}",
                "rows returned": "24",
            }
        )
        connection.close()
    print(
        f"## (f3) Time to analyse {series:,} resources x {SYNTHETIC_DAYS} days of 5-minute data "
        f"({fleet.buckets.num_rows:,} points) in the lake\n"
    )
    return rows


def main() -> None:
    """Run the analytics benchmarks and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1_000, help="resources in the speed benchmark")
    parser.add_argument("--quality-series", type=int, default=300, help="series in the labelled set")
    args, _ = parser.parse_known_args()
    configure_logging("WARNING")
    print(markdown(detection_quality(args.quality_series)))
    print()
    rows, _ = forecast_error()
    print(markdown(rows))
    print()
    print(markdown(analysis_speed(args.series)))


if __name__ == "__main__":
    main()
