"""Benchmark (c): the 5-minute rollup in DuckDB (the warehouse's own SQL) against the same rollup in pandas.

Both engines get the same generated points already in memory (an Arrow table for DuckDB, the
DataFrame converted from it for pandas, string keys as categoricals: what a careful pandas user
would do); conversion is not timed. Each returns its result in its own native form (DuckDB: an
Arrow table, which is what the warehouse writes to Parquet; pandas: a DataFrame): turning
DuckDB's 2 million result rows into a DataFrame would add ~2.5 s of string conversion that the
warehouse never pays. Both compute per (series, 5-minute bucket): avg, min, max,
sum, count, and p95 for the gauge statistics only, plus the descriptive columns; the results are
checked against each other before timings are printed.

Run: `uv run python -m benchmarks.bench_rollups` (10 million points; `--points 100000` for a smoke run).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from oaktree.warehouse.layout import Resolution

from oaktree.warehouse.rollups import PERCENTILE_STATISTICS, rollup_sql
from oaktree.warehouse.schema import POINT_SCHEMA

START = datetime(2026, 1, 1, tzinfo=UTC)
SERIES = 2_000  # points are spread over this many series, one point per minute each


def generate_points(count: int, *, seed: int = 7) -> pa.Table:
    """Return `count` 1-minute points over SERIES series (half Average, half Sum), in POINT_SCHEMA."""
    series = min(SERIES, count)
    minutes = -(-count // series)
    rng = np.random.default_rng(seed)
    series_index = np.tile(np.arange(series), minutes)[:count]
    minute_index = np.repeat(np.arange(minutes), series)[:count]
    start_ms = int(START.timestamp() * 1000)
    resource_ids = np.array([f"i-{n:05d}" for n in range(series)], dtype=object)
    statistics = np.where(np.arange(series) % 2 == 0, "Average", "Sum").astype(object)
    columns = {
        "resource_id": resource_ids[series_index],
        "resource_type": np.full(count, "ec2_instance", dtype=object),
        "region": np.full(count, "us-east-1", dtype=object),
        "metric_name": np.where(series_index % 2 == 0, "CPUUtilization", "NetworkIn").astype(object),
        "statistic": statistics[series_index],
        "unit": np.where(series_index % 2 == 0, "Percent", "Bytes").astype(object),
        "ts": pa.array(start_ms + minute_index * 60_000, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
        "value": rng.gamma(2.0, 10.0, count),
    }
    return pa.Table.from_pydict(columns, schema=POINT_SCHEMA)


def duckdb_rollup(points: pa.Table) -> pa.Table:
    """Return the 5-minute buckets computed by the warehouse's own rollup SQL, as Arrow."""
    with duckdb.connect() as connection:
        connection.execute("SET TimeZone = 'UTC'")
        connection.register("points", points)
        return connection.sql(rollup_sql("points", Resolution.FIVE_MINUTES)).to_arrow_table()


def pandas_rollup(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the same 5-minute buckets computed with pandas groupby."""
    keys = ["resource_id", "metric_name", "statistic", "bucket"]
    frame = frame.assign(bucket=frame["ts"].dt.floor("5min"))
    grouped = frame.groupby(keys, observed=True, sort=False)
    buckets = grouped.agg(
        resource_type=("resource_type", "last"),
        region=("region", "last"),
        unit=("unit", "last"),
        avg=("value", "mean"),
        min=("value", "min"),
        max=("value", "max"),
        sum=("value", "sum"),
        count=("value", "count"),
    )
    gauges = frame[frame["statistic"].isin(sorted(PERCENTILE_STATISTICS))]
    p95 = gauges.groupby(keys, observed=True, sort=False)["value"].quantile(0.95).rename("p95")
    return buckets.join(p95).reset_index()


def _timed(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return best, result


def _check_same(duck: pd.DataFrame, panda: pd.DataFrame) -> None:
    """Fail loudly if the two engines disagree: a benchmark of different answers means nothing."""
    keys = ["resource_id", "metric_name", "statistic", "bucket"]
    left = duck.assign(**{k: duck[k].astype(str) for k in keys}).sort_values(keys).reset_index(drop=True)
    right = panda.assign(**{k: panda[k].astype(str) for k in keys}).sort_values(keys).reset_index(drop=True)
    if len(left) != len(right):
        raise AssertionError(f"bucket counts differ: duckdb {len(left)}, pandas {len(right)}")
    for column in ("avg", "min", "max", "sum", "count", "p95"):
        if not np.allclose(left[column].astype(float), right[column].astype(float), equal_nan=True):
            raise AssertionError(f"column {column} differs between duckdb and pandas")


def main() -> None:
    """Run the benchmark and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000_000, help="1-minute points to roll up")
    parser.add_argument("--repeat", type=int, default=1, help="runs per engine; the best is reported")
    args = parser.parse_args()

    points = generate_points(args.points)
    frame = points.to_pandas()
    for column in ("resource_id", "resource_type", "region", "metric_name", "statistic", "unit"):
        frame[column] = frame[column].astype("category")

    duck_seconds, duck = _timed(lambda: duckdb_rollup(points), args.repeat)
    panda_seconds, panda = _timed(lambda: pandas_rollup(frame), args.repeat)
    _check_same(duck.to_pandas(), panda)

    print(f"5-minute rollup (avg/min/max/sum/count/p95) of {args.points:,} points into {len(duck):,} buckets")
    print()
    print("| engine | seconds | points/s |")
    print("| --- | ---: | ---: |")
    for engine, seconds in (("DuckDB", duck_seconds), ("pandas", panda_seconds)):
        print(f"| {engine} | {seconds:.2f} | {args.points / seconds:,.0f} |")
    print()
    print(f"Ratio pandas / DuckDB: {panda_seconds / duck_seconds:.1f}x (same input in memory, same results).")


if __name__ == "__main__":
    main()
