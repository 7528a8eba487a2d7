"""Prefect flow: collect CloudWatch metrics per account and region, in parallel; publish an artifact."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency

from flows.health import FAILURE_HOOKS, publish_collection_health
from oaktree.accounts import account_region, account_regions
from oaktree.collection.pipeline import (
    CollectionReport,
    RegionReport,
    collect_region,
    region_failure,
)
from oaktree.config import get_settings
from oaktree.discovery.store import load_inventory


def region_limit_name(region: str, account_id: str | None = None) -> str:
    """Return the global concurrency limit that lets one collector at a time read a region.

    GetMetricData's quota is per account and region, so a configured account's region has its own
    limit (`cloudwatch-getmetricdata-<account>-<region>`); the credentials' own account keeps the
    region's name alone. With the limit at 1, the in-process GetMetricData token bucket is the
    pair's whole request rate even when several workers run collections. If the limit is not
    defined on the server the flow runs without it (Prefect logs a warning) rather than failing.
    """
    if account_id is None:
        return f"cloudwatch-getmetricdata-{region}"
    return f"cloudwatch-getmetricdata-{account_id}-{region}"


# A collector that dies without releasing its region (its worker killed, its host lost) holds the
# region's slot until the lease expires: the shortest lease Prefect grants, renewed while it runs.
REGION_LEASE_SECONDS = 60


# NO_CACHE: a collection must read CloudWatch every time; retries re-read only the series whose
# watermarks did not move, because the successful batches already moved theirs.
@task(
    retries=2,
    retry_delay_seconds=[10, 30],
    cache_policy=NO_CACHE,
    task_run_name="collect-{account_id}-{region}",
)
def collect_region_task(region: str, account_id: str | None = None) -> RegionReport:
    """Return what collecting one region of one account stored; raises (and retries) if a batch failed."""
    settings = get_settings()
    scope = account_region(settings, account_id, region)
    resources = load_inventory(settings)
    with concurrency(
        region_limit_name(region, account_id), occupy=1, lease_duration=REGION_LEASE_SECONDS, strict=False
    ):
        return collect_region(region, resources, settings=settings, scope=scope)


@flow(name="collect_metrics", log_prints=False, **FAILURE_HOOKS)
def collect_metrics(regions: list[str] | None = None, account_ids: list[str] | None = None) -> dict[str, Any]:
    """Collect every series per account and region; a failing one is reported, the others complete."""
    scopes = account_regions(get_settings(), account_ids=account_ids, regions=regions)
    futures = collect_region_task.map(
        [scope.region for scope in scopes], account_id=[scope.account_id for scope in scopes]
    )
    reports: list[RegionReport] = []
    for scope, future in zip(scopes, futures, strict=True):
        future.wait()
        if future.state.is_completed():
            reports.append(future.result())
        else:
            reports.append(
                region_failure(scope.region, future.state.result(raise_on_failure=False), scope.account_id)
            )
    # Lag is measured when the run ends: now minus the newest point it stored.
    report = CollectionReport(collected_at=datetime.now(UTC), regions=reports)
    create_markdown_artifact(key="collection", markdown=report.to_markdown(), description="Collection run")
    publish_collection_health(report)
    return report.to_dict()
