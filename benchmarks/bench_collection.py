"""Collection benchmarks: API calls per window, pipeline throughput, peak memory.

(a) API calls, counted by the endpoint itself: a moto server on 127.0.0.1 whose WSGI app counts
    every request by operation. GetMetricData calls for S series over one window against the API
    minimum ceil(S/500) and against GetMetricStatistics (one call per series, by definition), and
    BatchWriteItem calls against ceil(items/25).
(b) Pipeline throughput without AWS latency: `collect_region` against in-process fakes of
    CloudWatch and DynamoDB (answers precomputed, writes counted), 10,000 series x 60 points,
    once with the real warehouse write and once without it.
(d) Peak memory of a 10,000-series collection run, measured in a fresh subprocess (max RSS).

Run: `uv run python -m benchmarks.bench_collection` (prints markdown tables). (c), the rollups,
is the warehouse's benchmark.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from oaktree.collection.planning import MAX_QUERIES_PER_REQUEST, align_down, epoch_ms
from oaktree.config import Settings, load_settings
from oaktree.inventory import Resource, ResourceType
from oaktree.logs import configure_logging
from oaktree.storage.tables import METRICS_TABLE, ensure_table

NOW = datetime(2026, 11, 24, 12, 0, 30, tzinfo=UTC)
REGION = "us-east-1"


def fleet(series: int) -> list[Resource]:
    """Return resources carrying exactly `series` series: EC2 instances (7 each) and ECS services (4 each)."""
    instances = series // 7
    while (series - 7 * instances) % 4:
        instances -= 1
    services = (series - 7 * instances) // 4
    return [
        Resource(
            resource_id=f"i-{index:017x}",
            arn=f"arn:aws:ec2:{REGION}:123456789012:instance/i-{index:017x}",
            resource_type=ResourceType.EC2_INSTANCE,
            region=REGION,
            name=f"bench-{index}",
            state="running",
        )
        for index in range(instances)
    ] + [
        Resource(
            resource_id=f"arn:aws:ecs:{REGION}:123456789012:service/bench/svc-{index}",
            arn=f"arn:aws:ecs:{REGION}:123456789012:service/bench/svc-{index}",
            resource_type=ResourceType.ECS_SERVICE,
            region=REGION,
            name=f"svc-{index}",
            state="ACTIVE",
            cluster="bench",
        )
        for index in range(services)
    ]


def bench_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for one region, with request budgets lifted (the fakes have no quota to protect)."""
    values: dict[str, Any] = {
        "regions": (REGION,),
        "data_dir": data_dir,
        "getmetricdata_tps": 100_000,
        "dynamodb_write_tps": 100_000,
        "dynamodb_read_tps": 100_000,
    }
    values.update(overrides)
    return load_settings(**values)


# (a) API calls counted at the endpoint ---------------------------------------------------------


class CountingApp:
    """WSGI middleware counting requests by AWS operation, as the endpoint sees them."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        # JSON protocols name the operation in X-Amz-Target, CloudWatch's CBOR protocol in the path.
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        operation = target.rpartition(".")[2] if target else environ.get("PATH_INFO", "").rpartition("/")[2]
        self.counts[operation] += 1
        return self.app(environ, start_response)


@contextmanager
def counting_endpoint() -> Iterator[CountingApp]:
    """Run a moto server on a free loopback port, clients pointed at it; yield its request counter."""
    from moto.server import ThreadedMotoServer

    from sandbox import cloudwatch_index
    from sandbox.server import point_clients_at, restore_environment

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    counter = CountingApp(server._server.app)  # the WSGI app werkzeug calls per request
    server._server.app = counter
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto's state lives in the process, not the server: start each run from an empty account.
    reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(reset, timeout=30) as response:
        response.read()
    previous = point_clients_at(endpoint)
    try:
        from oaktree import aws

        account = aws.client("sts", REGION).get_caller_identity()["Account"]
        # moto rescans every datapoint per query; the sandbox's index gives the same answers fast.
        cloudwatch_index.install(account_id=account, regions=[REGION])
        yield counter
    finally:
        restore_environment(previous)
        server.stop()


def put_window(resources: list[Resource], minutes: int) -> None:
    """Publish one datapoint per minute over the window for every metric of the fleet."""
    from oaktree import aws
    from oaktree.collection.planning import series_of

    cloudwatch = aws.client("cloudwatch", REGION)
    end = datetime.fromtimestamp(align_down(epoch_ms(NOW), 60) / 1000, UTC)
    data: dict[str, list[dict[str, Any]]] = {}
    # Series share a metric across statistics: publish each (resource, metric) once.
    seen: set[tuple[str, str]] = set()
    for one in series_of(resources):
        if (one.resource.resource_id, one.spec.metric_name) in seen:
            continue
        seen.add((one.resource.resource_id, one.spec.metric_name))
        data.setdefault(one.spec.namespace, []).extend(
            {
                "MetricName": one.spec.metric_name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in one.dimensions.items()],
                "Timestamp": end - timedelta(minutes=minutes - minute),
                "Value": float(minute),
            }
            for minute in range(minutes)
        )
    for namespace, metric_data in data.items():
        for offset in range(0, len(metric_data), 1000):
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=metric_data[offset : offset + 1000])


def api_calls(series_counts: tuple[int, ...] = (1_200, 5_000), minutes: int = 5) -> list[dict[str, Any]]:
    """Return, per S, the calls the endpoint counted for one collection run of S series."""
    from oaktree.collection.pipeline import collect_once

    rows = []
    for series in series_counts:
        with tempfile.TemporaryDirectory() as data_dir, counting_endpoint() as endpoint:
            settings = bench_settings(Path(data_dir), backfill_lookback_minutes=minutes)
            ensure_table(settings.metrics_table, METRICS_TABLE, settings.storage_region)
            resources = fleet(series)
            put_window(resources, minutes)
            endpoint.counts.clear()
            report = collect_once(settings=settings, resources=resources, now=NOW, regions=[REGION])
            summary = report.to_dict()
            stored = summary["datapoints_stored"]["dynamodb"]
            watermarks = summary["series"]
            items = stored + watermarks
            rows.append(
                {
                    "series": summary["series"],
                    "getmetricdata_calls": endpoint.counts["GetMetricData"],
                    "getmetricdata_minimum": math.ceil(summary["series"] / 500),
                    "getmetricstatistics_calls": summary["series"],
                    "batchwriteitem_calls": endpoint.counts["BatchWriteItem"],
                    "items_written": items,
                    "batchwriteitem_minimum": math.ceil(items / 25),
                    "batchgetitem_calls": endpoint.counts["BatchGetItem"],
                }
            )
    return rows


# (b) Pipeline throughput against in-process fakes ----------------------------------------------


class FakeCloudWatch:
    """GetMetricData with precomputed answers: `points` one-minute values for every query."""

    def __init__(self, points: int) -> None:
        self.points = points
        self.calls = 0

    def get_metric_data(self, **request: Any) -> dict[str, Any]:
        self.calls += 1
        start: datetime = request["StartTime"]
        end: datetime = request["EndTime"]
        minutes = min(self.points, int((end - start).total_seconds() // 60))
        timestamps = [end - timedelta(minutes=minutes - n) for n in range(minutes)]
        results = [
            {
                "Id": query["Id"],
                "Label": query["Id"],
                "Timestamps": timestamps,
                "Values": [float(n) + 0.5 for n in range(minutes)],
                "StatusCode": "Complete",
            }
            for query in request["MetricDataQueries"]
        ]
        return {"MetricDataResults": results}


class FakeDynamoDB:
    """BatchWriteItem that counts what it accepts; BatchGetItem that knows no watermark."""

    def __init__(self) -> None:
        self.write_calls = 0
        self.items = 0

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        self.write_calls += 1
        for requests in RequestItems.values():
            if len(requests) > 25:
                raise ValueError("more than 25 items in one BatchWriteItem")
            self.items += len(requests)
        return {"UnprocessedItems": {}}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        return {"Responses": {table: [] for table in RequestItems}, "UnprocessedKeys": {}}


MEMORY_TARGET_MIB = 256  # one collection run of 10,000 series x 60 points, warehouse write included
THROUGHPUT_TARGET = 200_000  # datapoints per second on the 2-core reference machine


def pipeline_run(
    series: int, points: int, *, with_warehouse: bool, data_dir: Path, threads: int | None = None
) -> dict[str, Any]:
    """Run one region's collection of `series` x `points` against the fakes; return its throughput."""
    from oaktree.collection.pipeline import collect_region

    overrides: dict[str, Any] = {"backfill_lookback_minutes": points}
    if threads is not None:
        overrides["collection_threads"] = threads
    settings = bench_settings(data_dir, **overrides)
    resources = fleet(series)
    cloudwatch, dynamodb = FakeCloudWatch(points), FakeDynamoDB()
    write_warehouse = None if with_warehouse else (lambda table: table.num_rows)
    if with_warehouse:
        from oaktree.warehouse.lake import open_for_writing

        open_for_writing(settings).close()  # the lake exists in steady state: creating it is not throughput
    started = time.perf_counter()
    report = collect_region(
        REGION,
        resources,
        settings=settings,
        now=NOW,
        cloudwatch=cloudwatch,
        dynamodb=dynamodb,
        write_warehouse=write_warehouse,
    )
    elapsed = time.perf_counter() - started
    return {
        "series": report.series,
        "datapoints": report.datapoints_dynamodb,
        "warehouse": "DuckLake upsert" if with_warehouse else "skipped",
        "threads": settings.collection_threads,
        "seconds": round(elapsed, 2),
        "datapoints_per_second": round(report.datapoints_dynamodb / elapsed),
        "getmetricdata_calls": cloudwatch.calls,
        "batchwriteitem_calls": dynamodb.write_calls,
    }


# (c) One worker's reach -------------------------------------------------------------------------

STEADY_STATE_POINTS = 4  # each minute's run reads the new minute and re-reads 3 settling ones
GETMETRICDATA_TPS = int(Settings.model_fields["getmetricdata_tps"].default)  # AWS's quota: 50
QUERIES_PER_CALL = MAX_QUERIES_PER_REQUEST


def worker_reach(series: int, *, data_dir: Path) -> dict[str, Any]:
    """Return how many series one worker collects per minute, from a steady-state run's duration."""
    run = pipeline_run(series, STEADY_STATE_POINTS, with_warehouse=True, data_dir=data_dir, threads=1)
    per_minute = round(series * 60 / run["seconds"])
    api_ceiling = GETMETRICDATA_TPS * QUERIES_PER_CALL * 60
    return {
        "series": series,
        "points_per_series": STEADY_STATE_POINTS,
        "seconds_per_run": run["seconds"],
        "series_per_minute": per_minute,
        "api_ceiling_per_account_region": api_ceiling,
        "worker_vs_api_ceiling": f"{per_minute / api_ceiling:.2f}",
    }


# (d) Peak memory ------------------------------------------------------------------------------


def peak_memory(series: int, points: int, *, with_warehouse: bool) -> dict[str, Any]:
    """Return the peak RSS of a fresh process running one collection of `series` x `points`."""
    probe_arguments = ["--memory-probe", str(series), str(points), "1" if with_warehouse else "0"]
    probe = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_collection", *probe_arguments],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return json.loads(probe.stdout.strip().splitlines()[-1])


def _high_water_mib() -> int:
    """Return this process's peak resident memory in MiB.

    Linux's VmHWM belongs to the process image, so it is not inherited from the parent the way
    `ru_maxrss` is across fork and exec.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _memory_probe(series: int, points: int, with_warehouse: int) -> None:
    # Modules are imported before the baseline, so the difference is the run itself.
    importlib.import_module("oaktree.collection.pipeline")
    importlib.import_module("oaktree.warehouse.points")
    with tempfile.TemporaryDirectory() as data_dir:
        imports = _high_water_mib()
        if with_warehouse:
            # Opening a lake loads DuckDB's ducklake and sqlite extensions (about 100 MiB of code,
            # once per process, whatever the data): the baseline a worker carries between runs.
            from oaktree.warehouse.lake import open_for_writing

            open_for_writing(bench_settings(Path(data_dir) / "warm")).close()
        before = _high_water_mib()
        pipeline_run(series, points, with_warehouse=bool(with_warehouse), data_dir=Path(data_dir) / "run")
        after = _high_water_mib()
    summary = {
        "series": series,
        "points": points,
        "warehouse": "DuckLake upsert" if with_warehouse else "skipped",
        "imports_mib": imports,
        "baseline_mib": before,
        "peak_mib": after,
        "run_mib": after - before,
        "run_target_mib": MEMORY_TARGET_MIB,
    }
    print(json.dumps(summary))


def markdown(rows: list[dict[str, Any]]) -> str:
    """Return rows of equal keys as a markdown table."""
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(str(row[key]) for key in header) + " |" for row in rows)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the collection benchmarks and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--memory-probe", nargs=3, type=int, metavar=("SERIES", "POINTS", "WAREHOUSE"), help=argparse.SUPPRESS
    )
    parser.add_argument("--series", type=int, default=10_000, help="series of the throughput and memory runs")
    parser.add_argument("--points", type=int, default=60, help="points per series of those runs")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    if args.memory_probe:
        _memory_probe(*args.memory_probe)
        return

    print("## (a) API calls for one window, counted at the endpoint\n")
    rows = api_calls()
    for row in rows:
        row["ratio_to_minimum"] = f"{row['getmetricdata_calls'] / row['getmetricdata_minimum']:.2f}"
        row["batchwrite_ratio"] = f"{row['batchwriteitem_calls'] / row['batchwriteitem_minimum']:.2f}"
    print(markdown(rows) + "\n")

    print(f"## (b) Pipeline throughput, {args.series:,} series x {args.points} points, no AWS latency\n")
    with tempfile.TemporaryDirectory() as data_dir:
        # A small run first: one-time costs (pyarrow and DuckDB initialisation) are not throughput.
        pipeline_run(500, 5, with_warehouse=True, data_dir=Path(data_dir) / "warm-up")
        runs = []
        # Threads overlap AWS's latency in production (the default, 4); without latency they
        # only contend for the GIL, so one thread shows the pipeline's CPU cost alone.
        for with_warehouse, threads in itertools.product((False, True), (1, None)):
            # The median of three runs: one run on a shared 2-core machine swings by 20 %.
            repeats = [
                pipeline_run(
                    args.series,
                    args.points,
                    with_warehouse=with_warehouse,
                    data_dir=Path(data_dir) / f"{with_warehouse}-{threads}-{attempt}",
                    threads=threads,
                )
                for attempt in range(3)
            ]
            median = sorted(repeats, key=lambda run: run["datapoints_per_second"])[1]
            median["runs_per_second"] = " / ".join(f"{run['datapoints_per_second']:,}" for run in repeats)
            median["ratio_to_target"] = f"{median['datapoints_per_second'] / THROUGHPUT_TARGET:.2f}"
            runs.append(median)
    print(f"Target: {THROUGHPUT_TARGET:,} datapoints/s; median of 3 runs.\n")
    print(markdown(runs) + "\n")

    print("## (c) How far one worker goes: steady-state runs (1 new minute + 3 settling minutes a series)\n")
    with tempfile.TemporaryDirectory() as data_dir:
        reach = [worker_reach(series, data_dir=Path(data_dir) / str(series)) for series in (10_000, 40_000)]
    print(
        "One process, one thread, DuckLake upsert, no AWS latency. `series_per_minute` is what one "
        "worker's CPU can collect within the 1-minute schedule; the API ceiling is GetMetricData's "
        f"budget ({GETMETRICDATA_TPS} calls/s x {QUERIES_PER_CALL} queries) per account and region.\n"
    )
    print(markdown(reach) + "\n")

    print(f"## (d) Peak memory of one collection run, {args.series:,} series x {args.points} points\n")
    print(markdown([peak_memory(args.series, args.points, with_warehouse=flag) for flag in (False, True)]))


if __name__ == "__main__":
    main()
