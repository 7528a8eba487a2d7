"""Benchmark (c): the two queries users run most, on a lake holding 14 days of 1,000 resources.

- Notebook query: one resource, one metric, 7 days at 5-minute resolution (`read.series`, which
  reads the 5-minute rollup), against the naive way: aggregating the 1-minute points on the fly.
- Fleet query: the latest CPU of every one of the 1,000 resources (`read.latest_values` bounded
  to the last 15 minutes), against the same query without the bound (scanning 14 days).

The lake holds one CPU series per resource (20 million 1-minute points) and its rollups, written
by the warehouse's own code. Each query runs cold once (new connection), then warm five times;
medians are reported.

Run: `uv run python -m benchmarks bench_queries`.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from oaktree.config import Settings, load_settings
from oaktree.logs import configure_logging
from oaktree.warehouse import connect, read
from oaktree.warehouse.lake import LAKE, open_for_writing
from oaktree.warehouse.rollups import rollup
from oaktree.warehouse.schema import METRICS, POINT_SCHEMA

RESOURCES = 1_000
DAYS = 14
NOW = datetime(2026, 12, 1, tzinfo=UTC)
WARM_RUNS = 5


def fill_lake(settings: Settings) -> int:
    """Write 14 days of one CPU series per resource, a day per commit, and roll them up; return points."""
    connection = open_for_writing(settings)
    minutes_per_day = 1440
    rng = np.random.default_rng(11)
    resource_ids = pa.array([f"i-{n:017x}" for n in range(RESOURCES)])
    total = 0
    for day in range(DAYS):
        start = NOW - timedelta(days=DAYS - day)
        count = RESOURCES * minutes_per_day
        minute_of_day = np.tile(np.arange(minutes_per_day), RESOURCES)
        series_index = np.repeat(np.arange(RESOURCES), minutes_per_day)
        values = 20 + 15 * np.sin(2 * np.pi * minute_of_day / minutes_per_day) + rng.normal(0, 3, count)
        table = pa.Table.from_arrays(
            [
                resource_ids.take(pa.array(series_index)),
                pa.array(["ec2_instance"] * count),
                pa.array(["us-east-1"] * count),
                pa.array(["CPUUtilization"] * count),
                pa.array(["Average"] * count),
                pa.array(["Percent"] * count),
                pa.array(int(start.timestamp() * 1000) + minute_of_day * 60_000).cast(
                    pa.timestamp("ms", tz="UTC")
                ),
                pa.array(values.clip(0, 100)),
                pa.array(["123456789012"] * count),
            ],
            schema=POINT_SCHEMA,
        )
        connection.register("_day", table)
        connection.execute(f"INSERT INTO {LAKE}.{METRICS.name} SELECT * FROM _day")
        connection.unregister("_day")
        total += count
    rollup(connection, now=NOW, raw_retention_days=DAYS + 1)
    connection.close()
    return total


def _timed(run: Callable[[duckdb.DuckDBPyConnection], Any], settings: Settings) -> dict[str, float]:
    """Return the cold time (fresh connection) and the median warm time of one query, in ms."""
    started = time.perf_counter()
    with connect(settings=settings) as connection:
        run(connection)
        cold = time.perf_counter() - started
        warm = []
        for _ in range(WARM_RUNS):
            started = time.perf_counter()
            run(connection)
            warm.append(time.perf_counter() - started)
    return {"cold_ms": cold * 1000, "warm_ms": statistics.median(warm) * 1000}


def naive_series(
    connection: duckdb.DuckDBPyConnection, resource_id: str, start: datetime, end: datetime
) -> Any:
    """Return the same 7-day, 5-minute series by aggregating 1-minute points on the fly."""
    return connection.execute(
        "SELECT time_bucket(INTERVAL '5 minutes', ts) AS ts, avg(value) AS value FROM lake.metrics "
        "WHERE resource_id = ? AND metric_name = 'CPUUtilization' AND statistic = 'Average' "
        "AND ts >= ? AND ts < ? GROUP BY ALL ORDER BY ts",
        [resource_id, start, end],
    ).df()


def main() -> None:
    """Build the lake, run both queries and their naive twins, print a markdown table."""
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as data_dir:
        settings = load_settings(data_dir=Path(data_dir))
        started = time.perf_counter()
        points = fill_lake(settings)
        built = time.perf_counter() - started
        resource_id = f"i-{RESOURCES // 2:017x}"
        week_start, week_end = NOW - timedelta(days=7), NOW

        def notebook(connection: duckdb.DuckDBPyConnection) -> Any:
            frame = read.series(
                connection,
                resource_ids=[resource_id],
                metric_name="CPUUtilization",
                statistic="Average",
                start=week_start,
                end=week_end,
            )
            assert len(frame) == 7 * 288 and set(frame["resolution"]) == {"5m"}, len(frame)
            return frame

        def notebook_naive(connection: duckdb.DuckDBPyConnection) -> Any:
            return naive_series(connection, resource_id, week_start, week_end)

        def fleet(connection: duckdb.DuckDBPyConnection) -> Any:
            frame = read.latest_values(
                connection,
                metric_name="CPUUtilization",
                statistic="Average",
                since=NOW - timedelta(minutes=15),
            )
            assert len(frame) == RESOURCES, len(frame)
            return frame

        def fleet_naive(connection: duckdb.DuckDBPyConnection) -> Any:
            frame = read.latest_values(connection, metric_name="CPUUtilization", statistic="Average")
            assert len(frame) == RESOURCES, len(frame)
            return frame

        rows = []
        for name, ours, naive, naive_name in (
            ("notebook: 1 resource, 7 days at 5 min", notebook, notebook_naive, "1-minute points aggregated"),
            ("fleet: latest CPU of 1,000 resources", fleet, fleet_naive, "no time bound (14 days scanned)"),
        ):
            mine, theirs = _timed(ours, settings), _timed(naive, settings)
            rows.append(
                f"| {name} | {mine['cold_ms']:.0f} | {mine['warm_ms']:.0f} | {naive_name} "
                f"| {theirs['warm_ms']:.0f} | {theirs['warm_ms'] / mine['warm_ms']:.1f}x |"
            )
    print(f"## (c) Queries on a lake of {RESOURCES:,} resources x {DAYS} days ({points:,} 1-minute points)\n")
    print(f"Lake built (written and rolled up) in {built:.0f} s.\n")
    print("| query | cold ms | warm ms (median of 5) | naive way | naive warm ms | naive / ours |")
    print("| --- | ---: | ---: | --- | ---: | ---: |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
