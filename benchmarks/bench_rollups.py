"""Benchmark (b): the 5-minute rollup of 10 million points read from the lake's files, DuckDB vs pandas.

Both engines start from the same lake: DuckDB runs the warehouse's own rollup SQL on the
DuckLake table; pandas reads the table's Parquet files (the paths DuckLake lists) with pyarrow,
turns the string keys into categoricals (what a careful pandas user does) and groups. Reading
is part of both timings. Both compute per (series, 5-minute bucket): avg, min, max, sum, count,
and p95 for the gauge statistics, plus the descriptive columns; the results are checked against
each other, then the median of three runs of each is reported.

Run: `uv run python -m benchmarks bench_rollups` (`--points 100000` for a smoke run).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from oaktree.config import load_settings
from oaktree.logs import configure_logging
from oaktree.warehouse.lake import LAKE, open_for_writing
from oaktree.warehouse.rollups import rollup_sql
from oaktree.warehouse.schema import METRICS, PERCENTILE_STATISTICS, POINT_SCHEMA, Resolution

START = datetime(2026, 1, 1, tzinfo=UTC)
SERIES = 2_000  # points are spread over this many series, one point per minute each
TARGET_RATIO = 2.0  # DuckDB at least twice as fast as pandas


def generate_points(count: int, *, seed: int = 7) -> pa.Table:
    """Return `count` 1-minute points over SERIES series (half Average, half Sum), in POINT_SCHEMA."""
    series = min(SERIES, count)
    minutes = -(-count // series)
    rng = np.random.default_rng(seed)
    series_index = np.tile(np.arange(series), minutes)[:count]
    minute_index = np.repeat(np.arange(minutes), series)[:count]
    start_ms = int(START.timestamp() * 1000)
    resource_ids = np.array([f"i-{n:05d}" for n in range(series)], dtype=object)
    statistics_ = np.where(np.arange(series) % 2 == 0, "Average", "Sum").astype(object)
    columns = {
        "resource_id": resource_ids[series_index],
        "resource_type": np.full(count, "ec2_instance", dtype=object),
        "region": np.full(count, "us-east-1", dtype=object),
        "metric_name": np.where(series_index % 2 == 0, "CPUUtilization", "NetworkIn").astype(object),
        "statistic": statistics_[series_index],
        "unit": np.where(series_index % 2 == 0, "Percent", "Bytes").astype(object),
        "ts": pa.array(start_ms + minute_index * 60_000, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
        "value": rng.gamma(2.0, 10.0, count),
        "account_id": np.full(count, "123456789012", dtype=object),
    }
    return pa.Table.from_pydict(columns, schema=POINT_SCHEMA)


def fill_lake(connection: duckdb.DuckDBPyConnection, points: pa.Table) -> None:
    """Insert the points into the lake's metrics table in one commit."""
    connection.register("_points", points)
    connection.execute(f"INSERT INTO {LAKE}.{METRICS.name} SELECT * FROM _points")
    connection.unregister("_points")


def duckdb_rollup(connection: duckdb.DuckDBPyConnection) -> pa.Table:
    """Return the 5-minute buckets computed by the warehouse's own rollup SQL on the lake, as Arrow."""
    return connection.sql(rollup_sql(f"{LAKE}.{METRICS.name}", Resolution.FIVE_MINUTES)).to_arrow_table()


def lake_files(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """Return the Parquet files DuckLake lists for the metrics table."""
    rows = connection.execute(f"SELECT data_file FROM ducklake_list_files('{LAKE}', '{METRICS.name}')")
    return [row[0] for row in rows.fetchall()]


def pandas_rollup(files: list[str]) -> pd.DataFrame:
    """Return the same 5-minute buckets: read the lake's files with pyarrow, group with pandas."""
    frame = pd.read_parquet(files, engine="pyarrow")
    for column in ("resource_id", "resource_type", "region", "metric_name", "statistic", "unit"):
        frame[column] = frame[column].astype("category")
    keys = ["resource_id", "metric_name", "statistic", "bucket"]
    frame = frame.assign(bucket=frame["ts"].dt.floor("5min"))
    grouped = frame.groupby(keys, observed=True, sort=False)
    buckets = grouped.agg(
        resource_type=("resource_type", "first"),
        region=("region", "first"),
        unit=("unit", "first"),
        avg=("value", "mean"),
        min=("value", "min"),
        max=("value", "max"),
        sum=("value", "sum"),
        count=("value", "count"),
    )
    gauges = frame[frame["statistic"].isin(sorted(PERCENTILE_STATISTICS))]
    p95 = gauges.groupby(keys, observed=True, sort=False)["value"].quantile(0.95).rename("p95")
    return buckets.join(p95).reset_index()


def _median_of(run: Callable[[], Any], repeat: int) -> tuple[float, list[float], Any]:
    timings, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), timings, result


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
    parser.add_argument("--repeat", type=int, default=3, help="runs per engine; the median is reported")
    args, _ = parser.parse_known_args()
    configure_logging("WARNING")

    with tempfile.TemporaryDirectory() as data_dir:
        connection = open_for_writing(load_settings(data_dir=Path(data_dir)))
        fill_lake(connection, generate_points(args.points))
        files = lake_files(connection)
        duck_seconds, duck_runs, duck = _median_of(lambda: duckdb_rollup(connection), args.repeat)
        panda_seconds, panda_runs, panda = _median_of(lambda: pandas_rollup(files), args.repeat)
        _check_same(duck.to_pandas(), panda)
        connection.close()

    print(
        f"## (b) 5-minute rollup of {args.points:,} points read from the lake "
        f"({len(files)} Parquet files) into {len(duck):,} buckets\n"
    )
    print("| engine | seconds (median) | runs | points/s |")
    print("| --- | ---: | --- | ---: |")
    for engine, seconds, runs in (("DuckDB", duck_seconds, duck_runs), ("pandas", panda_seconds, panda_runs)):
        shown = " / ".join(f"{run:.2f}" for run in runs)
        print(f"| {engine} | {seconds:.2f} | {shown} | {args.points / seconds:,.0f} |")
    print()
    print(
        f"pandas / DuckDB: {panda_seconds / duck_seconds:.1f}x (target {TARGET_RATIO:.0f}x; same files, "
        "same results, reading included)."
    )


if __name__ == "__main__":
    main()
