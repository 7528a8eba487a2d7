"""Prefect flow: discover resources in every region, in parallel, and record the changes."""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from flows.health import FAILURE_HOOKS
from oaktree.config import get_settings
from oaktree.discovery.pipeline import DiscoveryReport, RegionDiscovery, discover_region, record_discovery


@task(retries=2, retry_delay_seconds=[5, 30], task_run_name="discover-{region}")
def discover_region_task(region: str) -> RegionDiscovery:
    """Return one region's resources and the services that failed there."""
    return discover_region(region)


@task(retries=2, retry_delay_seconds=[5, 30])
def record_discovery_task(discovered: list[RegionDiscovery]) -> DiscoveryReport:
    """Diff against the stored inventory, write events, save the new inventory."""
    return record_discovery(get_settings(), discovered)


def _artifact(report: DiscoveryReport) -> str:
    summary = report.to_dict()
    rows = ["| type | region | resources |", "| --- | --- | --- |"]
    for resource_type, per_region in sorted(summary["resources_by_type_and_region"].items()):
        rows.extend(f"| {resource_type} | {region} | {n} |" for region, n in sorted(per_region.items()))
    rows.append("")
    rows.append(f"**{len(report.events)} changes**, {report.events_written} events written.")
    rows.extend(f"- {event.message}" for event in report.events[:50])
    rows.extend(f"- FAILED {f.region}/{f.service}: {f.error_code}" for f in report.failures)
    return "\n".join(rows)


@flow(name="discover_resources", log_prints=False, **FAILURE_HOOKS)
def discover_resources(regions: list[str] | None = None) -> dict:
    """Discover EC2, ECS and DynamoDB resources per region and record inventory changes as events."""
    regions = regions or list(get_settings().regions)
    discovered = [future.result() for future in discover_region_task.map(regions)]
    report = record_discovery_task(discovered)
    create_markdown_artifact(key="discovery", markdown=_artifact(report), description="Discovery run")
    return report.to_dict()
