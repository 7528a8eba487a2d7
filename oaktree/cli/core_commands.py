"""Foundation commands: bootstrap, discover, demo, serve."""

from __future__ import annotations

from typing import Any

import typer

from oaktree import aws
from oaktree.cli.common import JsonOption, emit, one_line_errors
from oaktree.config import get_settings
from oaktree.discovery.pipeline import discover_all
from oaktree.storage.tables import ensure_tables


def bootstrap_storage() -> dict[str, Any]:
    """Create OakTree's DynamoDB tables and the warehouse views if missing; return what was created."""
    settings = get_settings()
    aws.check_reachable(settings.storage_region)
    created = ensure_tables(
        metrics_table=settings.metrics_table,
        events_table=settings.events_table,
        region=settings.storage_region,
    )
    return {"region": settings.storage_region, "tables_created": created}


def _discovery_text(summary: dict[str, Any]) -> str:
    lines = [f"{summary['resources_total']} resources"]
    for resource_type, per_region in sorted(summary["resources_by_type_and_region"].items()):
        lines.append(f"  {resource_type}: " + ", ".join(f"{r}={n}" for r, n in sorted(per_region.items())))
    lines.append(f"{len(summary['changes'])} changes, {summary['events_written']} events written")
    lines.extend(f"  {change['message']}" for change in summary["changes"][:20])
    lines.extend(
        f"FAILED {f['region']}/{f['service']}: {f['error_code']}: {f['message']}" for f in summary["failures"]
    )
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add the foundation commands to the app."""

    @app.command()
    @one_line_errors
    def bootstrap(as_json: JsonOption = False) -> None:
        """Create OakTree's DynamoDB tables if they are missing (idempotent)."""
        emit(bootstrap_storage(), as_json=as_json)

    @app.command()
    @one_line_errors
    def discover(as_json: JsonOption = False) -> None:
        """Discover EC2, ECS and DynamoDB resources in every configured region and record changes."""
        settings = get_settings()
        aws.check_reachable(settings.storage_region)
        report = discover_all(settings)
        emit(report.to_dict(), as_json=as_json, human=_discovery_text)
        if report.failures:
            raise typer.Exit(1)
