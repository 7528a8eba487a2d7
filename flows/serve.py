"""Serve every deployment of `prefect.yaml` from this process (no work pool or worker needed).

The deployments and their schedules are read from `prefect.yaml`, so the cadences live in one
place whether they run under `oaktree serve` or on a work pool's workers.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import yaml
from prefect import Flow, serve
from prefect.client.orchestration import get_client
from prefect.deployments.runner import RunnerDeployment

from flows.collect import region_limit_name
from oaktree.accounts import account_regions
from oaktree.config import get_settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
PREFECT_YAML = PROJECT_DIR / "prefect.yaml"


def _load_flow(entrypoint: str) -> Flow:
    path, _, name = entrypoint.partition(":")  # "flows/collect.py:collect_metrics"
    module = importlib.import_module(Path(path).with_suffix("").as_posix().replace("/", "."))
    return getattr(module, name)


def _schedule_kwargs(schedules: list[dict[str, Any]]) -> dict[str, Any]:
    intervals = [s["interval"] for s in schedules if "interval" in s]
    crons = [s["cron"] for s in schedules if "cron" in s]
    return {"interval": intervals or None, "cron": crons or None}


def declared_deployments(path: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    """Return each declared deployment's name, entrypoint and schedules, as prefect.yaml has them."""
    return [
        {key: spec.get(key) for key in ("name", "entrypoint", "schedules")}
        for spec in yaml.safe_load(path.read_text())["deployments"]
    ]


def load_deployments(path: Path = PREFECT_YAML, names: list[str] | None = None) -> list[RunnerDeployment]:
    """Return a runner deployment for each deployment declared in prefect.yaml (or those named)."""
    declared = [
        spec
        for spec in yaml.safe_load(path.read_text())["deployments"]
        if names is None or spec["name"] in names
    ]
    return [
        _load_flow(spec["entrypoint"]).to_deployment(
            name=spec["name"],
            description=spec.get("description"),
            tags=spec.get("tags"),
            parameters=spec.get("parameters"),
            concurrency_limit=spec.get("concurrency_limit"),
            **_schedule_kwargs(spec.get("schedules", [])),
        )
        for spec in declared
    ]


def ensure_region_limits(regions: list[str], account_id: str | None = None) -> None:
    """Create (or reset to 1) the GetMetricData concurrency limit of each region (of one account)."""
    with get_client(sync_client=True) as client:
        for region in regions:
            client.upsert_global_concurrency_limit_by_name(region_limit_name(region, account_id), limit=1)


def ensure_all_region_limits() -> None:
    """Create (or reset to 1) the GetMetricData concurrency limit of every configured account and region."""
    for scope in account_regions(get_settings()):
        ensure_region_limits([scope.region], scope.account_id)


def serve_all(names: list[str] | None = None) -> None:
    """Create the per-region concurrency limits, then serve the deployments until interrupted."""
    ensure_all_region_limits()
    serve(*load_deployments(names=names))
