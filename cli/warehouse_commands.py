"""`oaktree warehouse ...`: prepare the analyst-facing DuckDB file, show what it holds, apply retention.

(`oaktree rollup` lives with `oaktree collect` in `collection_commands`.)
"""

from __future__ import annotations

from typing import Any

import typer

from cli.common import JsonOption, emit, one_line_errors
from oaktree.config import get_settings


def _status_text(summary: dict[str, Any]) -> str:
    lines = [f"warehouse file (open with duckdb.connect(path, read_only=True)): {summary['path']}"]
    lines.extend(f"  {view}: {rows} rows" for view, rows in summary["rows"].items())
    latest = summary["latest_point"]
    lines.append(f"newest 1-minute point: {latest or '-'}")
    return "\n".join(lines)


def _retention_text(summary: dict[str, Any]) -> str:
    return "\n".join(
        f"{resolution}: kept from {cutoff}, deleted {summary['partitions_deleted'][resolution]} "
        f"partition(s), kept {summary['partitions_kept'][resolution]}"
        for resolution, cutoff in summary["cutoffs"].items()
    )


def register(app: typer.Typer) -> None:
    """Add the `warehouse` command group to the app."""
    warehouse_app = typer.Typer(
        help="The DuckDB warehouse: views file, status, retention.", no_args_is_help=True
    )
    app.add_typer(warehouse_app, name="warehouse")

    @warehouse_app.command("init")
    @one_line_errors
    def init(as_json: JsonOption = False) -> None:
        """Create the warehouse folders and the DuckDB views file (idempotent)."""
        from oaktree.warehouse.views import build_warehouse

        settings = get_settings()
        rewritten = build_warehouse(
            warehouse_dir=settings.warehouse_dir, database_path=settings.warehouse_path
        )
        emit({"path": settings.warehouse_path.resolve(), "rewritten": rewritten}, as_json=as_json)

    @warehouse_app.command("status")
    @one_line_errors
    def status(as_json: JsonOption = False) -> None:
        """Show the warehouse file's path, the rows of every view and the newest point."""
        from oaktree.warehouse.query import latest_point_time, view_counts

        settings = get_settings()
        summary = {
            "path": settings.warehouse_path.resolve(),
            "rows": view_counts(settings),
            "latest_point": latest_point_time(settings),
        }
        emit(summary, as_json=as_json, human=_status_text)

    @warehouse_app.command("retention")
    @one_line_errors
    def retention(as_json: JsonOption = False) -> None:
        """Delete partitions older than each resolution's retention (OAKTREE_WAREHOUSE_RETENTION_*_DAYS)."""
        from oaktree.warehouse.retention import apply_configured_retention

        settings = get_settings()
        report = apply_configured_retention(settings)
        emit(report.to_dict(), as_json=as_json, human=_retention_text)
