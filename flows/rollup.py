"""Prefect flows of the warehouse: keep the rollups up to date, and apply the retention policy."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from oaktree.config import get_settings
from oaktree.warehouse.retention import RetentionReport, apply_configured_retention
from oaktree.warehouse.rollups import RollupReport, rollup_warehouse
from oaktree.warehouse.views import ensure_warehouse


# Every task here reads and writes warehouse files (I/O, later on S3), hence the retries; the
# work is idempotent, so a retry redoes it safely. NO_CACHE: each run must look at the files.
@task(retries=2, retry_delay_seconds=[5, 30], cache_policy=NO_CACHE)
def ensure_warehouse_task() -> str:
    """Create the empty datasets and the DuckDB view file if missing or outdated; return its path."""
    return str(ensure_warehouse(get_settings()))


@task(retries=2, retry_delay_seconds=[5, 30], cache_policy=NO_CACHE)
def rollup_task(since: datetime | None) -> RollupReport:
    """Recompute the buckets touched by new or changed 1-minute points."""
    return rollup_warehouse(get_settings(), since=since)


@task(retries=2, retry_delay_seconds=[5, 30], cache_policy=NO_CACHE)
def retention_task() -> RetentionReport:
    """Delete the partitions (and event days) older than their retention."""
    return apply_configured_retention(get_settings())


def _rollup_markdown(report: RollupReport) -> str:
    rows = ["| resolution | buckets recomputed |", "| --- | --- |"]
    rows.extend(f"| {resolution} | {count} |" for resolution, count in report.buckets.items())
    rows.append("")
    rows.append(
        f"{report.raw_partitions} changed 1-minute partitions, {report.partitions_written} partitions "
        f"written, {report.days_skipped} expired days skipped."
    )
    return "\n".join(rows)


def _retention_markdown(report: RetentionReport) -> str:
    rows = ["| resolution | kept from | partitions deleted | partitions kept |", "| --- | --- | --- | --- |"]
    rows.extend(
        f"| {resolution} | {cutoff:%Y-%m-%d %H:%M} UTC | {report.partitions_deleted[resolution]} "
        f"| {report.partitions_kept[resolution]} |"
        for resolution, cutoff in report.cutoffs.items()
    )
    rows.append("")
    rows.append(f"{report.event_days_deleted} days of inventory change events deleted.")
    return "\n".join(rows)


@flow(name="rollup_metrics", log_prints=False)
def rollup_metrics(since: datetime | None = None) -> dict[str, Any]:
    """Bring the 5-minute, 1-hour and 1-day rollups up to date; `since` rebuilds from that time on."""
    ensure_warehouse_task()
    report = rollup_task(since)
    create_markdown_artifact(key="rollups", markdown=_rollup_markdown(report), description="Rollup run")
    return report.to_dict()


@flow(name="apply_warehouse_retention", log_prints=False)
def apply_warehouse_retention() -> dict[str, Any]:
    """Delete warehouse partitions (and event days) older than their retention."""
    ensure_warehouse_task()
    report = retention_task()
    create_markdown_artifact(
        key="warehouse-retention", markdown=_retention_markdown(report), description="Retention run"
    )
    return report.to_dict()
