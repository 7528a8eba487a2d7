"""Prefect flows of the warehouse: rollups, retention and compaction of the DuckLake tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.health import FAILURE_HOOKS
from oaktree.config import get_settings
from oaktree.warehouse.maintenance import (
    CompactionReport,
    RetentionReport,
    apply_configured_retention,
    compact_configured,
)
from oaktree.warehouse.rollups import RollupReport, rollup_warehouse


# Each task reads and writes the lake (the catalog database, files maybe on S3), hence the
# retries; each is one transaction or idempotent, so a retry redoes it safely. NO_CACHE: every
# run must look at the lake as it is now.
@task(retries=2, retry_delay_seconds=[5, 30], cache_policy=NO_CACHE)
def rollup_task(since: datetime | None) -> RollupReport:
    """Recompute the buckets touched by 1-minute points changed since the last run."""
    return rollup_warehouse(get_settings(), since=since)


@task(retries=2, retry_delay_seconds=[5, 30], cache_policy=NO_CACHE)
def retention_task() -> RetentionReport:
    """Delete the rows older than each table's retention."""
    return apply_configured_retention(get_settings())


@task(retries=2, retry_delay_seconds=[5, 30], cache_policy=NO_CACHE)
def compaction_task() -> CompactionReport:
    """Merge small files, expire old snapshots and delete files past their grace."""
    return compact_configured(get_settings())


def _rollup_markdown(report: RollupReport) -> str:
    rows = ["| resolution | buckets recomputed |", "| --- | --- |"]
    rows.extend(f"| {resolution} | {count} |" for resolution, count in report.buckets.items())
    since = "everything" if report.from_snapshot is None else f"snapshot {report.from_snapshot}"
    rows.append("")
    rows.append(
        f"{report.changed_series_hours} changed series-hours, from {since} to snapshot {report.to_snapshot}; "
        f"{report.days_skipped} days past the 1-minute retention skipped."
    )
    return "\n".join(rows)


def _retention_markdown(report: RetentionReport) -> str:
    rows = ["| table | kept from | rows deleted |", "| --- | --- | --- |"]
    rows.extend(
        f"| {table} | {cutoff:%Y-%m-%d %H:%M} UTC | {report.rows_deleted[table]} |"
        for table, cutoff in report.cutoffs.items()
    )
    return "\n".join(rows)


def _compaction_markdown(report: CompactionReport) -> str:
    return "\n".join(
        [
            "| step | count |",
            "| --- | --- |",
            f"| inlined rows flushed to Parquet | {report.rows_flushed} |",
            f"| small files merged | {report.files_merged if report.merged else 'not on a SQLite catalog'} |",
            f"| merged files written | {report.files_written} |",
            f"| snapshots expired | {report.snapshots_expired} |",
            f"| files deleted after their grace | {report.files_deleted} |",
        ]
    )


@flow(name="rollup_metrics", log_prints=False, **FAILURE_HOOKS)
def rollup_metrics(since: datetime | None = None) -> dict[str, Any]:
    """Bring the 5-minute, 1-hour and 1-day rollups up to date; `since` rebuilds from that time on."""
    report = rollup_task(since)
    create_markdown_artifact(key="rollups", markdown=_rollup_markdown(report), description="Rollup run")
    return report.to_dict()


@flow(name="apply_warehouse_retention", log_prints=False, **FAILURE_HOOKS)
def apply_warehouse_retention() -> dict[str, Any]:
    """Delete warehouse rows older than each table's retention."""
    report = retention_task()
    create_markdown_artifact(
        key="warehouse-retention", markdown=_retention_markdown(report), description="Retention run"
    )
    return report.to_dict()


@flow(name="compact_warehouse", log_prints=False, **FAILURE_HOOKS)
def compact_warehouse() -> dict[str, Any]:
    """Compact the lake's small files, expire old snapshots and clean up unused files."""
    report = compaction_task()
    create_markdown_artifact(
        key="warehouse-compaction", markdown=_compaction_markdown(report), description="Compaction run"
    )
    return report.to_dict()
