"""Prefect flow: collect CloudWatch metrics per region, in parallel, and publish a run artifact."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency

from flows.health import FAILURE_HOOKS, publish_collection_health
from oaktree.collection.pipeline import (
    CollectionReport,
    RegionReport,
    collect_region,
    region_failure,
)
from oaktree.config import get_settings
from oaktree.discovery.store import load_inventory


def region_limit_name(region: str) -> str:
    """Return the global concurrency limit that lets one collector at a time read a region.

    With the limit at 1, the in-process GetMetricData token bucket is the region's whole request
    rate even when several workers run collections. If the limit is not defined on the server the
    flow runs without it (Prefect logs a warning) rather than failing.
    """
    return f"cloudwatch-getmetricdata-{region}"


# NO_CACHE: a collection must read CloudWatch every time; retries re-read only the series whose
# watermarks did not move, because the successful batches already moved theirs.
@task(retries=2, retry_delay_seconds=[10, 30], cache_policy=NO_CACHE, task_run_name="collect-{region}")
def collect_region_task(region: str) -> RegionReport:
    """Return what collecting one region stored; raises (and retries) if any of its batches failed."""
    settings = get_settings()
    resources = load_inventory(settings)
    with concurrency(region_limit_name(region), occupy=1, strict=False):
        return collect_region(region, resources, settings=settings)


@flow(name="collect_metrics", log_prints=False, **FAILURE_HOOKS)
def collect_metrics(regions: list[str] | None = None) -> dict[str, Any]:
    """Collect every series of the inventory per region; a failing region is reported, others complete."""
    settings = get_settings()
    regions = regions or list(settings.regions)
    futures = collect_region_task.map(regions)
    reports: list[RegionReport] = []
    for region, future in zip(regions, futures, strict=True):
        future.wait()
        if future.state.is_completed():
            reports.append(future.result())
        else:
            reports.append(region_failure(region, future.state.result(raise_on_failure=False)))
    # Lag is measured when the run ends: now minus the newest point it stored.
    report = CollectionReport(collected_at=datetime.now(UTC), regions=reports)
    create_markdown_artifact(key="collection", markdown=report.to_markdown(), description="Collection run")
    publish_collection_health(report)
    return report.to_dict()
