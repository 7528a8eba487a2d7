"""Scale-out check: two Prefect process workers, two accounts, a killed worker, every point stored once.

What it does, all on 127.0.0.1 in a temporary folder:
1. starts the sandbox (a moto server) with two accounts, the second reached through a role with
   an external id, each with the same fleet in two regions (four account-regions), and runs
   discovery once;
2. puts the warehouse where production has it: a DuckLake whose catalog is a fresh PostgreSQL
   database and whose files are on the moto server's S3;
3. starts a Prefect server, a process work pool, one global concurrency limit per account and
   region (`flows.serve.ensure_all_region_limits`), deploys `collect_metrics` to the pool and
   starts two `prefect worker start` processes;
4. asks for one collection run per account-region, and kills one worker (its whole process group,
   the flow runs it executes included) while its collection is running;
5. asks again for every account-region, plus a second run of one of them at the same moment; the
   killed run's region slots come back when their lease expires (`REGION_LEASE_SECONDS`);
6. checks: every point the sandbox wrote is in DynamoDB and in the warehouse exactly once, no two
   collections of one account-region ever overlapped, both workers took runs;
7. measures how far one worker goes: a steady-state run of every series on the surviving worker,
   as series per minute (the run's series x 60 / its duration).

Run: `uv run python scripts/scaleout_demo.py` (prints a JSON report) (about three minutes, most of it waiting
for the killed run's lease; needs the PostgreSQL of `make test`). `tests/e2e/test_scaleout.py`
runs it. Production uses the same deployment on the ECS work pool (see docs/operations.md).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
POOL = "oaktree-scaleout"
DEPLOYMENT = "collection-scaleout"
WORKERS = ("worker-a", "worker-b")
OTHER_ACCOUNT = "222222222222"
PG_ADMIN_DSN = os.environ.get("OAKTREE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
LAKE_BUCKET = "oaktree-scaleout-lake"
BACKFILL_HOURS = 0.75
# The venv's prefect command, whether or not the venv's bin is on PATH.
PREFECT = [sys.executable, "-m", "prefect"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, timeout: float) -> None:
    """Poll `url` until it answers 200 or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def prefect_cli(*arguments: str) -> None:
    subprocess.run(PREFECT + list(arguments), check=True, capture_output=True, text=True)


def create_catalog_database() -> tuple[str, str]:
    """Create an empty PostgreSQL database for the lake's catalog; return its URL and name."""
    import psycopg

    name = f"oaktree_scaleout_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}", name


def drop_catalog_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def expected_points(sandbox: Any, resources: list[Any], written_until: datetime) -> Counter[tuple[str, str]]:
    """Return, per (account, region), how many points the sandbox wrote for the inventory's series."""
    from oaktree.collection.planning import series_of
    from sandbox.metric_generator import minutes_between

    fleets = {sandbox.account_id: sandbox.fleet, **sandbox.other_fleets}
    minutes = minutes_between(written_until - timedelta(hours=BACKFILL_HOURS), written_until)
    expected: Counter[tuple[str, str]] = Counter()
    for one in series_of(resources):
        fleet = fleets[one.resource.account_id]
        try:
            fleet.simulated(one.resource.resource_id)
        except KeyError:  # OakTree's own tables: nothing writes their metrics in the sandbox
            continue
        expected[(one.resource.account_id, one.resource.region)] += sum(
            fleet.expected_value(one.resource.resource_id, one.spec, minute) is not None for minute in minutes
        )
    return expected


def stored_points(settings: Any) -> dict[str, dict[str, int]]:
    """Return per account/region: warehouse rows, distinct warehouse keys, DynamoDB point items."""
    from oaktree import aws
    from oaktree.storage.tables import WATERMARK_PREFIX
    from oaktree.warehouse import connect

    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"warehouse": 0, "distinct": 0, "dynamodb": 0})
    with connect(settings=settings) as connection:
        for account_id, region, total, distinct in connection.execute(
            "SELECT account_id, region, count(*), count(DISTINCT (resource_id, metric_name, statistic, ts)) "
            "FROM metrics GROUP BY ALL ORDER BY ALL"
        ).fetchall():
            counts[f"{account_id}/{region}"].update(warehouse=total, distinct=distinct)
    scan = aws.client("dynamodb", settings.storage_region).get_paginator("scan")
    for page in scan.paginate(
        TableName=settings.metrics_table,
        ProjectionExpression="metric_key, #r, account_id",
        ExpressionAttributeNames={"#r": "region"},
    ):
        for item in page["Items"]:
            if not item["metric_key"]["S"].startswith(WATERMARK_PREFIX):
                counts[f"{item['account_id']['S']}/{item['region']['S']}"]["dynamodb"] += 1
    return dict(counts)


class Scenario:
    """The processes and clients of one scale-out run."""

    def __init__(self, workdir: Path, prefect_port: int) -> None:
        self.workdir = workdir
        self.prefect_port = prefect_port
        self.processes: dict[str, subprocess.Popen[str]] = {}
        self.logs = {name: workdir / f"{name}.log" for name in WORKERS}

    def start_prefect(self) -> None:
        log = (self.workdir / "prefect-server.log").open("w")
        self.processes["server"] = subprocess.Popen(
            [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(self.prefect_port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        wait_for(f"http://127.0.0.1:{self.prefect_port}/api/health", timeout=180)

    def start_worker(self, name: str) -> None:
        self.processes[name] = subprocess.Popen(
            [*PREFECT, "worker", "start", "--pool", POOL, "--name", name, "--limit", "4"],
            stdout=self.logs[name].open("w"),
            stderr=subprocess.STDOUT,
            text=True,
            cwd=PROJECT_DIR,
            # Its own process group: killing it kills the flow runs it started, as a lost host would.
            start_new_session=True,
        )

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(process.pid, signal.SIGKILL)

    def worker_of(self, flow_run_id: Any) -> str:
        return next((name for name, path in self.logs.items() if str(flow_run_id) in path.read_text()), "?")


def request_runs(scopes: list[tuple[str | None, str]]) -> list[tuple[str, Any]]:
    """Ask for one collection run per (account, region), at once; return (label, flow run)."""
    from prefect.deployments import run_deployment

    return [
        (
            f"{account_id}/{region}",
            run_deployment(
                f"collect_metrics/{DEPLOYMENT}",
                parameters={"regions": [region], "account_ids": [account_id]},
                timeout=0,
            ),
        )
        for account_id, region in scopes
    ]


def wait_until(predicate: Any, *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")


def flow_run_states(client: Any, runs: list[tuple[str, Any]]) -> list[Any]:
    return [client.read_flow_run(run.id).state for _, run in runs]


def collect_task_runs(client: Any) -> list[Any]:
    """Return every collection task run the server knows."""
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

    return client.read_task_runs(task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="collect-")))


def overlapping_collections(task_runs: list[Any]) -> list[str]:
    """Return the account-regions two of whose finished collection tasks ran at the same time."""
    intervals: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for task_run in task_runs:
        if task_run.start_time and task_run.end_time:
            intervals[task_run.name.removeprefix("collect-")].append((task_run.start_time, task_run.end_time))
    overlapping = []
    for label, spans in intervals.items():
        spans.sort()
        if any(later_start < earlier_end for (_, earlier_end), (later_start, _) in itertools.pairwise(spans)):
            overlapping.append(label)
    return overlapping


def run(regions: list[str]) -> dict[str, Any]:
    """Run the scenario; return what it saw and measured (see the module docstring)."""
    workdir = Path(tempfile.mkdtemp(prefix="oaktree-scaleout-"))
    prefect_port = free_port()
    catalog_url, catalog_database = create_catalog_database()
    # Set before Prefect or OakTree settings are first read, here and in every child process.
    os.environ.update(
        {
            "OAKTREE_DATA_DIR": str(workdir / "data"),
            "OAKTREE_REGIONS": ",".join(regions),
            "OAKTREE_LOG_LEVEL": "WARNING",
            "OAKTREE_WAREHOUSE_CATALOG": catalog_url,
            "OAKTREE_WAREHOUSE_DATA_PATH": f"s3://{LAKE_BUCKET}/warehouse/",
            "OAKTREE_BACKFILL_LOOKBACK_MINUTES": str(int(BACKFILL_HOURS * 60) + 15),
            "PREFECT_HOME": str(workdir / "prefect"),
            "PREFECT_API_URL": f"http://127.0.0.1:{prefect_port}/api",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "5",
            "DO_NOT_TRACK": "1",
        }
    )
    os.environ.pop("OAKTREE_ACCOUNTS", None)
    from oaktree import aws
    from oaktree.collection.planning import series_of
    from oaktree.config import get_settings, load_settings
    from oaktree.discovery.pipeline import discover_all
    from oaktree.logs import configure_logging
    from sandbox.server import start_sandbox

    configure_logging("WARNING")
    scenario = Scenario(workdir, prefect_port)
    written_until = datetime.now(UTC).replace(second=0, microsecond=0)
    sandbox = start_sandbox(
        port=0,
        regions=regions,
        seed=42,
        settings=load_settings(),
        backfill_hours=BACKFILL_HOURS,
        live=False,
        now=written_until,
        other_accounts=[OTHER_ACCOUNT],
    )
    try:
        os.environ["OAKTREE_ACCOUNTS"] = sandbox.accounts_setting()
        get_settings.cache_clear()
        settings = get_settings()
        aws.client("s3", aws.default_region()).create_bucket(Bucket=LAKE_BUCKET)
        inventory = discover_all(settings)
        scopes = [(account, region) for account in (sandbox.account_id, OTHER_ACCOUNT) for region in regions]
        expected = expected_points(sandbox, inventory.resources, written_until)
        report: dict[str, Any] = {
            "account_regions": [f"{a}/{r}" for a, r in scopes],
            "resources": inventory.to_dict()["resources_by_account"],
            "points_written_by_sandbox": sum(expected.values()),
        }

        scenario.start_prefect()
        prefect_cli("work-pool", "create", POOL, "--type", "process", "--overwrite")
        from flows.serve import ensure_all_region_limits

        ensure_all_region_limits()
        from prefect import flow

        deployment = flow.from_source(source=str(PROJECT_DIR), entrypoint="flows/collect.py:collect_metrics")
        # deploy() prints its table on stdout, which carries only the JSON report.
        with contextlib.redirect_stdout(sys.stderr):
            deployment.deploy(
                name=DEPLOYMENT, work_pool_name=POOL, print_next_steps=False, ignore_warnings=True
            )
        for name in WORKERS:
            scenario.start_worker(name)

        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            # Phase 1: one run per account-region; kill worker-a while one of its collections runs.
            first = request_runs(scopes)

            def running_on_a() -> Any:
                running = [
                    run
                    for _, run in first
                    if (state := client.read_flow_run(run.id).state)
                    and state.is_running()
                    and scenario.worker_of(run.id) == WORKERS[0]
                ]
                busy = [t for t in collect_task_runs(client) if t.state and t.state.is_running()]
                return running and any(t.flow_run_id in {r.id for r in running} for t in busy) and running

            killed_runs = wait_until(running_on_a, timeout=180, what="a collection running on worker-a")
            at_kill = stored_points(settings)
            scenario.kill(WORKERS[0])
            killed_at = time.monotonic()
            report["killed"] = {
                "worker": WORKERS[0],
                "flow_runs_running": [run.name for run in killed_runs],
                "points_in_dynamodb_at_kill": sum(c["dynamodb"] for c in at_kill.values()),
            }
            wait_until(
                lambda: all(
                    state.is_final()
                    for (_, run), state in zip(first, flow_run_states(client, first), strict=True)
                    if run.id not in {r.id for r in killed_runs}
                ),
                timeout=300,
                what="the first runs not on the killed worker",
            )

            # Phase 2: everything again on the surviving worker, one account-region twice at once.
            second = request_runs([*scopes, scopes[0]])
            wait_until(
                lambda: all(state and state.is_final() for state in flow_run_states(client, second)),
                timeout=600,
                what="the second runs",
            )
            second_states = [state.type.value for state in flow_run_states(client, second)]
            report["after_kill"] = {
                "runs": len(second),
                "states": dict(Counter(second_states)),
                "seconds_after_kill": round(time.monotonic() - killed_at, 1),
                "workers": sorted({scenario.worker_of(run.id) for _, run in second}),
            }
            report["workers_used"] = sorted({scenario.worker_of(run.id) for _, run in first + second})
            report["overlapping_collections"] = overlapping_collections(collect_task_runs(client))
            stored = stored_points(settings)
            report["stored"] = stored
            report["expected"] = {f"{a}/{r}": n for (a, r), n in sorted(expected.items())}
            report["stored_exactly_once"] = all(
                stored.get(label, {}).get("dynamodb")
                == n
                == stored[label]["warehouse"]
                == stored[label]["distinct"]
                for label, n in report["expected"].items()
            )

            # Phase 3: how far one worker goes: a steady-state run of every series, after the
            # sandbox wrote the minutes since the backfill (as its live writer would have).
            write_minutes_since(sandbox, written_until)
            from prefect.deployments import run_deployment

            timed = run_deployment(f"collect_metrics/{DEPLOYMENT}", parameters={}, timeout=0)
            started = time.monotonic()
            wait_until(
                lambda: (state := client.read_flow_run(timed.id).state) and state.is_final(),
                timeout=600,
                what="the timed run",
            )
            timed_run = client.read_flow_run(timed.id)
            seconds = (timed_run.end_time - timed_run.start_time).total_seconds()
            series = len(series_of(inventory.resources))
            report["one_worker"] = {
                "series": series,
                "account_regions": len(scopes),
                "run_seconds": round(seconds, 2),
                "wall_seconds": round(time.monotonic() - started, 2),
                "series_per_minute": round(series * 60 / seconds),
                "state": timed_run.state.type.value,
            }
        return report
    finally:
        scenario.stop()
        sandbox.stop()
        drop_catalog_database(catalog_database)
        print(f"logs kept in {workdir}", file=sys.stderr)


def write_minutes_since(sandbox: Any, since: datetime) -> int:
    """Write every account's metrics for the minutes from `since` to now; return the datapoints."""
    from oaktree import aws
    from sandbox.metric_generator import minutes_between, write_minutes
    from sandbox.server import sandbox_role

    minutes = minutes_between(since, datetime.now(UTC))
    written = 0
    fleets = {sandbox.account_id: (sandbox.fleet, None)}
    fleets.update(
        {account: (fleet, sandbox_role(account)) for account, fleet in sandbox.other_fleets.items()}
    )
    for fleet, role in fleets.values():
        for region, region_fleet in fleet.regions.items():
            written += write_minutes(
                region=region,
                seed=fleet.seed,
                resources=region_fleet.resources,
                minutes=minutes,
                incidents=fleet.incidents,
                cloudwatch=aws.client("cloudwatch", region, role=role),
            )
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--regions", default="us-east-1,eu-west-1", help="regions of each of the two accounts"
    )
    args = parser.parse_args()
    report = run([region.strip() for region in args.regions.split(",") if region.strip()])
    print(json.dumps(report, indent=2, default=str))
    failed = (
        not report["stored_exactly_once"]
        or report["overlapping_collections"]
        or report["after_kill"]["states"] != {"COMPLETED": report["after_kill"]["runs"]}
        or report["workers_used"] != list(WORKERS)
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
