"""Prefect flow: discover resources in every account and region, in parallel, and record the changes."""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from flows.health import FAILURE_HOOKS
from oaktree.accounts import account_region, account_regions
from oaktree.config import get_settings
from oaktree.discovery.pipeline import DiscoveryReport, RegionDiscovery, discover_region, record_discovery


@task(retries=2, retry_delay_seconds=[5, 30], task_run_name="discover-{account_id}-{region}")
def discover_region_task(region: str, account_id: str | None = None) -> RegionDiscovery:
    """Return one region's resources (of one account) and the services that failed there."""
    return discover_region(region, scope=account_region(get_settings(), account_id, region))


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
    if len(summary["resources_by_account"]) > 1 or summary["unavailable_accounts"]:
        rows.extend(["| account | resources |", "| --- | --- |"])
        rows.extend(f"| {account} | {n} |" for account, n in summary["resources_by_account"].items())
        rows.append("")
    rows.extend(
        f"- **ACCOUNT UNAVAILABLE {account['account_id'] or '(own credentials)'}**: "
        f"{account['error_code']}: {account['message']}"
        for account in summary["unavailable_accounts"]
    )
    rows.append(f"**{len(report.events)} changes**, {report.events_written} events written.")
    rows.extend(f"- {event.message}" for event in report.events[:50])
    rows.extend(
        f"- FAILED {f.account_id + '/' if f.account_id else ''}{f.region}/{f.service}: {f.error_code}"
        for f in report.failures
    )
    return "\n".join(rows)


@flow(name="discover_resources", log_prints=False, **FAILURE_HOOKS)
def discover_resources(regions: list[str] | None = None, account_ids: list[str] | None = None) -> dict:
    """Discover EC2, ECS and DynamoDB resources per account and region and record inventory changes."""
    scopes = account_regions(get_settings(), account_ids=account_ids, regions=regions)
    futures = discover_region_task.map(
        [scope.region for scope in scopes], account_id=[scope.account_id for scope in scopes]
    )
    report = record_discovery_task([future.result() for future in futures])
    for account in report.unavailable_accounts:
        get_run_logger().error(
            "account %s could not be read (%s: %s); its resources are kept as last seen",
            account["account_id"] or "(own credentials)",
            account["error_code"],
            account["message"],
        )
    create_markdown_artifact(key="discovery", markdown=_artifact(report), description="Discovery run")
    return report.to_dict()
