"""Foundation commands: bootstrap, discover, demo, serve."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from cli.common import JsonOption, UsageError, current_settings, emit, one_line_errors, to_json


def bootstrap_storage() -> dict[str, Any]:
    """Create OakTree's DynamoDB tables and the warehouse if missing; return what was created."""
    from oaktree import aws
    from oaktree.storage.tables import ensure_tables
    from oaktree.warehouse.lake import lake_location, open_for_writing

    settings = current_settings()
    aws.check_reachable(settings.storage_region)
    created = ensure_tables(
        metrics_table=settings.metrics_table,
        events_table=settings.events_table,
        region=settings.storage_region,
    )
    open_for_writing(settings).close()  # creates the lake and its tables if missing
    return {
        "region": settings.storage_region,
        "tables_created": created,
        "warehouse": lake_location(settings).shown,
    }


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


def _demo_text(summary: dict[str, Any]) -> str:
    from cli.demo_alerts import alerts_text

    discovery, collection = summary["discovery"], summary["collection"]
    lines = [
        f"sandbox AWS endpoint: {summary['sandbox']['endpoint_url']}",
        f"discovered {discovery['resources_total']} resources, {discovery['events_written']} events written",
        f"collected: {to_json(collection.get('datapoints_stored', {}))}; "
        f"API calls: {to_json(collection.get('api_calls', {}))}",
        f"warehouse: {summary['warehouse']} (from oaktree.warehouse import connect; con = connect())",
    ]
    lines.extend(
        f"demo login: {user['username']} / {user['password']} ({user['role']})"
        for user in summary["users"]["demo_users"]
    )
    lines.extend(alerts_text(summary["alerts"]))
    return "\n".join(lines)


def _where_to_look() -> str:
    api_url = os.environ.get("PREFECT_API_URL", "")
    ui_url = api_url.removesuffix("/api") if api_url else "(temporary Prefect server: set PREFECT_API_URL)"
    return "\n".join(
        [
            f"Prefect UI (run history, schedules): {ui_url}",
            "Serving the discovery, collection, rollup, retention and compaction schedules; "
            "Ctrl-C stops the demo.",
        ]
    )


def register(app: typer.Typer) -> None:
    """Add the foundation commands to the app."""

    @app.command()
    @one_line_errors
    def bootstrap(as_json: JsonOption = False) -> None:
        """Create OakTree's DynamoDB tables and the warehouse if they are missing (idempotent)."""
        emit(bootstrap_storage(), as_json=as_json)

    @app.command()
    @one_line_errors
    def discover(as_json: JsonOption = False) -> None:
        """Discover EC2, ECS and DynamoDB resources in every configured region and record changes."""
        from oaktree import aws
        from oaktree.discovery.pipeline import discover_all

        settings = current_settings()
        aws.check_reachable(settings.storage_region)
        report = discover_all(settings)
        emit(report.to_dict(), as_json=as_json, human=_discovery_text)
        if report.failures:
            raise typer.Exit(1)

    @app.command()
    @one_line_errors
    def demo(
        once: Annotated[bool, typer.Option("--once", help="Run the pipeline once, print, and exit.")] = False,
        port: Annotated[int | None, typer.Option(help="Sandbox port (default OAKTREE_SANDBOX_PORT).")] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Start a fresh sandbox AWS account and run the whole pipeline on it (then keep serving)."""
        from cli.demo import run_pipeline, use_fresh_demo_dir
        from sandbox.server import SandboxPortInUseError, start_sandbox

        settings = use_fresh_demo_dir(current_settings())
        if port is None:
            port = 0 if once else settings.sandbox_port  # a one-shot run takes any free port
        try:
            sandbox = start_sandbox(
                port=port,
                regions=settings.regions,
                seed=settings.sandbox_seed,
                settings=settings,
                live=not once,
            )
        except SandboxPortInUseError as exc:
            raise UsageError(str(exc)) from None
        try:
            summary = run_pipeline(settings)
            summary["sandbox"] = sandbox.summary()
            emit(summary, as_json=as_json, human=_demo_text)
            if once:
                return
            typer.echo(_where_to_look(), err=as_json)
            from flows.serve import serve_all  # the entry layer may import Prefect; oaktree/ does not

            serve_all()
        finally:
            sandbox.stop()

    @app.command()
    @one_line_errors
    def serve(as_json: JsonOption = False) -> None:
        """Serve every deployment in prefect.yaml with its schedule from this process."""
        from flows.serve import declared_deployments, serve_all

        emit({"serving": declared_deployments()}, as_json=as_json)
        serve_all()
