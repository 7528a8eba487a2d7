"""`oaktree collect` (CloudWatch into DynamoDB and the warehouse) and `oaktree rollup` (warehouse buckets)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from cli.common import JsonOption, UsageError, current_settings, emit, one_line_errors

RegionOption = Annotated[
    list[str] | None,
    typer.Option("--region", help="Collect only this region (repeatable); default: every configured region."),
]


def _human(summary: dict[str, Any]) -> str:
    lines = [
        f"series: {summary['series']}  batches: {summary['batches']}",
        f"datapoints stored: dynamodb {summary['datapoints_stored']['dynamodb']}, "
        f"warehouse {summary['datapoints_stored']['warehouse']}",
        "api calls: " + (", ".join(f"{op} {n}" for op, n in summary["api_calls"].items()) or "none"),
        "throttles: " + (", ".join(f"{op} {n}" for op, n in summary["throttles"].items()) or "none"),
        f"partial results: {summary['partial_results']}  incomplete series: {summary['incomplete_series']}",
        "lag: " + ("-" if summary["lag_seconds"] is None else f"{summary['lag_seconds']:.0f} s"),
    ]
    lines.extend(f"FAILED {failed['region']}: {failed['reason']}" for failed in summary["failed_regions"])
    return "\n".join(lines)


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--since must be an ISO date or time, got {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def register(app: typer.Typer) -> None:
    """Add `collect` and `rollup` to the app."""

    @app.command()
    @one_line_errors
    def collect(
        once: Annotated[
            bool,
            typer.Option("--once", help="Collect one window and exit (without it: serve the schedule)."),
        ] = False,
        region: RegionOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Collect CloudWatch metrics of the discovered inventory (batched GetMetricData)."""
        from oaktree import aws
        from oaktree.collection.pipeline import collect_once

        settings = current_settings()
        unknown = [name for name in region or [] if name not in settings.regions]
        if unknown:
            raise UsageError(f"region(s) not configured in OAKTREE_REGIONS: {', '.join(unknown)}")
        aws.check_reachable(settings.storage_region)
        if not once:
            # Repeating is Prefect's job: serve the collection deployment with its schedule.
            from flows.serve import serve_all

            serve_all(names=["collection"])
            return
        summary = collect_once(settings=settings, regions=region or None).to_dict()
        emit(summary, as_json=as_json, human=_human)
        if summary["failed_regions"]:
            raise typer.Exit(1)

    @app.command()
    @one_line_errors
    def rollup(
        since: Annotated[
            str | None,
            typer.Option("--since", help="Recompute every bucket from this ISO time on (a rebuild)."),
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Bring the warehouse's 5-minute, hourly and daily rollups up to date with the 1-minute points."""
        from oaktree.warehouse.rollups import rollup_warehouse

        report = rollup_warehouse(current_settings(), since=_parse_since(since))
        emit(report.to_dict(), as_json=as_json)
