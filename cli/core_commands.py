"""Foundation commands: bootstrap, discover, demo, serve."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from cli.common import JsonOption, UsageError, current_settings, emit, one_line_errors


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


_TYPE_NAMES = {
    "ec2_instance": "EC2 instances",
    "ecs_cluster": "ECS clusters",
    "ecs_service": "ECS services",
    "dynamodb_table": "DynamoDB tables",
}


def demo_text(summary: dict[str, Any], *, logins: list[tuple[str, str, str]] | None = None) -> str:
    """Return the demo's summary in words: the fleet, the incident, where to look, the logins."""
    from cli.demo_alerts import alerts_text

    sandbox, discovery, collection = summary["sandbox"], summary["discovery"], summary["collection"]
    per_type = discovery["resources_by_type_and_region"]
    lines = [
        f"Sandbox AWS account at {sandbox['endpoint_url']}: {discovery['resources_total']} resources found"
    ]
    for region in sandbox["regions"]:
        counts = ", ".join(
            f"{per_type[kind].get(region, 0)} {name}"
            for kind, name in _TYPE_NAMES.items()
            if kind in per_type
        )
        lines.append(f"  {region}: {counts}")
    since = sandbox["incident_window_start"]
    since_text = since.strftime("%H:%M UTC") if hasattr(since, "strftime") else str(since)
    lines.append(
        f"Incident in progress since {since_text} ({sandbox['incident_window_minutes']} minutes, "
        "repeating every 6 hours):"
    )
    for region, fleet in sandbox["fleet"].items():
        lines.append(
            f"  {region}: instance {fleet['incident_instance_id']} above 90 % CPU, "
            f"table {fleet['incident_table']} throttling"
        )
    stored = collection.get("datapoints_stored", {})
    lines.append(
        f"First pass: {stored.get('warehouse', 0):,} datapoints collected "
        f"({'as Prefect flow runs' if summary.get('flow_runs') else 'in this process'}), "
        "six hours of history in the warehouse"
    )
    lines.extend(alerts_text(summary["alerts"]))
    dashboard = os.environ.get("OAKTREE_DASHBOARD_URL") or "not running (`oaktree dashboard` starts it)"
    api_url = os.environ.get("PREFECT_API_URL", "")
    prefect_ui = api_url.removesuffix("/api") if api_url else "not running (`make demo` starts one)"
    data_dir = os.environ.get("OAKTREE_DATA_DIR", "")
    lines += [
        "Where to look:",
        f"  Dashboard    {dashboard}",
        f"  Prefect UI   {prefect_ui}  (flow runs, schedules, artifacts)",
        f"  Warehouse    {summary['warehouse']}",
        f"               OAKTREE_DATA_DIR={data_dir} points any oaktree command or notebook at it",
        "  From another terminal, use the sandbox with:",
        *(f"    export {name}={value}" for name, value in sandbox["environment"].items()),
    ]
    if logins:
        lines.append(f"Demo logins (kept in {summary['users']['logins_file']}):")
        lines += [f"  {username} / {password}  ({role})" for username, password, role in logins]
    return "\n".join(lines)


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
        dashboard_port: Annotated[
            int, typer.Option("--dashboard-port", help="Port of the dashboard (not with --once).")
        ] = 8501,
        as_json: JsonOption = False,
    ) -> None:
        """Start a fresh sandbox AWS account and run the whole pipeline on it (then keep serving)."""
        from cli.demo import read_logins, run_pipeline, start_dashboard, use_fresh_demo_dir
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
        dashboard = None
        try:
            # With a Prefect API to record them (`make demo`), the first pass runs as flow runs.
            summary = run_pipeline(settings, as_flow_runs=bool(os.environ.get("PREFECT_API_URL")))
            summary["sandbox"] = sandbox.summary()
            if not once:
                # Started on the demo's data, once the first pass has filled it.
                dashboard = start_dashboard(dashboard_port)
            if as_json:
                emit(summary, as_json=True)
            else:
                # The passwords are shown here, once, on the terminal; never in the JSON.
                typer.echo(demo_text(summary, logins=read_logins(settings.data_dir)))
            if once:
                return
            typer.echo(
                "Serving the discovery, collection, rollup, alert, retention and compaction schedules; "
                "Ctrl-C stops the demo.",
                err=as_json,
            )
            from flows.serve import serve_all  # the entry layer may import Prefect; oaktree/ does not

            serve_all()
        finally:
            if dashboard is not None:
                dashboard.terminate()
            sandbox.stop()

    @app.command()
    @one_line_errors
    def serve(as_json: JsonOption = False) -> None:
        """Serve every deployment in prefect.yaml with its schedule from this process."""
        from flows.serve import declared_deployments, serve_all

        emit({"serving": declared_deployments()}, as_json=as_json)
        serve_all()
