"""Scale-out demo: two Prefect process workers share the collection of several regions, each once.

What it does, all on 127.0.0.1 in a temporary folder:
1. starts the sandbox AWS account (moto) for several regions and runs discovery once;
2. starts a Prefect server, creates a process work pool and one global concurrency limit per
   region (`cloudwatch-getmetricdata-<region>`, limit 1: one collector per region at a time);
3. deploys `collect_metrics` to the pool and starts two `prefect worker start` processes;
4. triggers one run per region, plus a second run of the first region at the same moment;
5. reports which worker ran which run (from the workers' logs), each run's GetMetricData calls
   (from its artifact), and checks the warehouse holds every point of every region exactly once.

Run: `uv run python scripts/scaleout_demo.py` (about a minute; not part of `make test`).
Production uses the same deployment on an ECS work pool instead (see infra/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
POOL = "oaktree-scaleout"
DEPLOYMENT = "collection-scaleout"
WORKERS = ("worker-a", "worker-b")


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
    subprocess.run(["prefect", *arguments], check=True, capture_output=True, text=True)


def stored_points(settings: Any) -> dict[str, dict[str, int]]:
    """Return per region: warehouse points, distinct warehouse point keys, and DynamoDB points."""
    from oaktree.warehouse.query import connect_readonly

    from oaktree import aws
    from oaktree.storage.metrics_store import WATERMARK_PREFIX

    with connect_readonly(settings) as connection:
        rows = connection.execute(
            "SELECT region, count(*), count(DISTINCT (resource_id, metric_name, statistic, ts)) "
            "FROM metrics GROUP BY region ORDER BY region"
        ).fetchall()
    counts = {
        region: {"warehouse": total, "distinct": distinct, "dynamodb": 0} for region, total, distinct in rows
    }
    scan = aws.client("dynamodb", settings.storage_region).get_paginator("scan")
    for page in scan.paginate(
        TableName=settings.metrics_table,
        ProjectionExpression="metric_key, #r",
        ExpressionAttributeNames={"#r": "region"},
    ):
        for item in page["Items"]:
            if not item["metric_key"]["S"].startswith(WATERMARK_PREFIX):
                counts.setdefault(item["region"]["S"], {"warehouse": 0, "distinct": 0, "dynamodb": 0})
                counts[item["region"]["S"]]["dynamodb"] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", default="us-east-1,us-west-2,eu-west-1,ap-southeast-1")
    args = parser.parse_args()
    regions = [region.strip() for region in args.regions.split(",") if region.strip()]

    workdir = Path(tempfile.mkdtemp(prefix="oaktree-scaleout-"))
    prefect_port = free_port()
    # Set before Prefect or OakTree settings are first read, here and in every child process.
    os.environ.update(
        {
            "OAKTREE_DATA_DIR": str(workdir / "data"),
            "OAKTREE_REGIONS": ",".join(regions),
            "OAKTREE_LOG_LEVEL": "WARNING",
            "PREFECT_HOME": str(workdir / "prefect"),
            "PREFECT_API_URL": f"http://127.0.0.1:{prefect_port}/api",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
        }
    )
    from oaktree.config import get_settings
    from oaktree.discovery.pipeline import discover_all
    from oaktree.logs import configure_logging
    from sandbox.server import start_sandbox

    configure_logging("WARNING")
    settings = get_settings()
    processes: list[subprocess.Popen[str]] = []
    sandbox = start_sandbox(port=0, regions=regions, seed=42, settings=settings, backfill_hours=0.5)
    try:
        inventory = discover_all(settings)
        print(
            f"sandbox {sandbox.endpoint_url}: {len(inventory.resources)} resources in {len(regions)} regions"
        )

        server_log = (workdir / "prefect-server.log").open("w")
        processes.append(
            subprocess.Popen(
                ["prefect", "server", "start", "--host", "127.0.0.1", "--port", str(prefect_port)],
                stdout=server_log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
        wait_for(f"http://127.0.0.1:{prefect_port}/api/health", timeout=120)
        print(f"prefect server http://127.0.0.1:{prefect_port} (UI shows the runs)")
        prefect_cli("work-pool", "create", POOL, "--type", "process", "--overwrite")
        for region in regions:
            prefect_cli("gcl", "create", f"cloudwatch-getmetricdata-{region}", "--limit", "1")

        from prefect import flow
        from prefect.deployments import run_deployment

        deployment = flow.from_source(source=str(PROJECT_DIR), entrypoint="flows/collect.py:collect_metrics")
        deployment.deploy(name=DEPLOYMENT, work_pool_name=POOL, print_next_steps=False, ignore_warnings=True)

        logs = {name: workdir / f"{name}.log" for name in WORKERS}
        for name in WORKERS:
            processes.append(
                subprocess.Popen(
                    ["prefect", "worker", "start", "--pool", POOL, "--name", name, "--limit", "2"],
                    stdout=logs[name].open("w"),
                    stderr=subprocess.STDOUT,
                    text=True,
                    cwd=PROJECT_DIR,
                )
            )

        # One run per region, and the first region twice at once: its concurrency limit makes the
        # two take turns, so the second reads only the settling overlap after the first.
        requests = [*regions, regions[0]]
        runs = [
            (
                region,
                run_deployment(f"collect_metrics/{DEPLOYMENT}", parameters={"regions": [region]}, timeout=0),
            )
            for region in requests
        ]
        rows = wait_for_runs(runs, logs, timeout=600)
        print(json.dumps(rows, indent=2))
        stored = stored_points(settings)
        print("points stored per region:", json.dumps(stored))
        workers_used = sorted({row["worker"] for row in rows})
        # Stored once: no duplicate key in the warehouse, and both stores hold the same points.
        wrong = {r: c for r, c in stored.items() if not c["warehouse"] == c["distinct"] == c["dynamodb"]}
        print(f"workers used: {workers_used}; regions stored more or less than once: {wrong or 'none'}")
        if wrong or any(row["state"] != "COMPLETED" for row in rows):
            sys.exit(1)
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=30)
        sandbox.stop()
        print(f"logs kept in {workdir}")


def wait_for_runs(
    runs: list[tuple[str, Any]], logs: dict[str, Path], *, timeout: float
) -> list[dict[str, Any]]:
    """Wait for the flow runs to finish; return region, worker, state and GetMetricData calls per run."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            states = [client.read_flow_run(run.id).state for _, run in runs]
            if all(state is not None and state.is_final() for state in states):
                break
            if time.monotonic() > deadline:
                raise TimeoutError("flow runs did not finish in time")
            time.sleep(2)
        rows = []
        for (region, run), state in zip(runs, states, strict=True):
            worker = next((name for name, path in logs.items() if str(run.id) in path.read_text()), "?")
            artifacts = client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
            )
            markdown = next((a.data for a in artifacts if a.key == "collection"), "") or ""
            calls = re.search(rf"\| {re.escape(region)} \|[^\n]*?GetMetricData (\d+)", markdown)
            points = re.search(rf"\| {re.escape(region)} \| \d+ \| (\d+) / (\d+)", markdown)
            rows.append(
                {
                    "region": region,
                    "flow_run": run.name,
                    "worker": worker,
                    "state": state.type.value if state else "?",
                    "getmetricdata_calls": int(calls.group(1)) if calls else None,
                    "datapoints_dynamodb": int(points.group(1)) if points else None,
                }
            )
    return rows


if __name__ == "__main__":
    main()
