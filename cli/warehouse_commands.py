"""`oaktree warehouse ...`: what the lake holds, retention and compaction.

(`oaktree rollup` lives with `oaktree collect` in `collection_commands`.)
"""

from __future__ import annotations

from typing import Any

import typer

from cli.common import JsonOption, current_settings, emit, one_line_errors


def _status_text(summary: dict[str, Any]) -> str:
    lines = [
        f"catalog: {summary['catalog']}",
        f"data: {summary['data_path']}",
        "open it: from oaktree.warehouse import connect; con = connect()",
    ]
    lines.extend(f"  {table}: {rows} rows" for table, rows in summary["rows"].items())
    lines.append(f"newest 1-minute point: {summary['newest_point'] or '-'}")
    return "\n".join(lines)


def _retention_text(summary: dict[str, Any]) -> str:
    return "\n".join(
        f"{table}: kept from {cutoff}, deleted {summary['rows_deleted'][table]} row(s)"
        for table, cutoff in summary["cutoffs"].items()
    )


def register(app: typer.Typer) -> None:
    """Add the `warehouse` command group to the app."""
    warehouse_app = typer.Typer(
        help="The DuckLake warehouse: status, retention, compaction.", no_args_is_help=True
    )
    app.add_typer(warehouse_app, name="warehouse")

    @warehouse_app.command("status")
    @one_line_errors
    def status(as_json: JsonOption = False) -> None:
        """Show where the lake lives, the rows of every table and the newest point."""
        from oaktree.warehouse import connect, read
        from oaktree.warehouse.lake import lake_location

        settings = current_settings()
        location = lake_location(settings)
        with connect(settings=settings) as connection:
            summary = {
                "catalog": location.shown,
                "data_path": location.data_path,
                "rows": read.table_counts(connection),
                "newest_point": read.newest_point(connection),
            }
        emit(summary, as_json=as_json, human=_status_text)

    @warehouse_app.command("retention")
    @one_line_errors
    def retention(as_json: JsonOption = False) -> None:
        """Delete rows older than each table's retention (OAKTREE_WAREHOUSE_RETENTION_*_DAYS)."""
        from oaktree.warehouse.maintenance import apply_configured_retention

        emit(apply_configured_retention(current_settings()).to_dict(), as_json=as_json, human=_retention_text)

    @warehouse_app.command("compact")
    @one_line_errors
    def compact(as_json: JsonOption = False) -> None:
        """Merge small files, expire old snapshots and delete files past their grace."""
        from oaktree.warehouse.maintenance import compact_configured

        emit(compact_configured(current_settings()).to_dict(), as_json=as_json)
