"""`oaktree check`: verify a deployment and print what passed and what failed, with the fix."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import JsonOption, current_settings, emit, one_line_errors

if TYPE_CHECKING:
    from oaktree.check import CheckReport


def render_table(report: CheckReport) -> str:
    """Return the report as an aligned text table; each failure is followed by its fix."""
    from oaktree.check import Status

    marks = {Status.PASSED: "ok", Status.FAILED: "FAIL", Status.SKIPPED: "skip"}
    rows = [(marks[r.status], r.check, r.target, r.detail) for r in report.results]
    header = ("", "check", "target", "detail")
    widths = [max(len(row[index]) for row in [header, *rows]) for index in range(3)]

    def line(row: tuple[str, str, str, str]) -> str:
        return "  ".join(cell.ljust(widths[index]) for index, cell in enumerate(row[:3])) + "  " + row[3]

    lines = [line(header).rstrip()]
    for row, result in zip(rows, report.results, strict=True):
        lines.append(line(row))
        if result.status is Status.FAILED and result.fix:
            lines.append(" " * (widths[0] + 2) + f"fix: {result.fix}")
    counts = report.to_dict()["counts"]
    lines.append(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add `oaktree check` to the app."""

    @app.command("check")
    @one_line_errors
    def check_command(
        only: Annotated[
            str | None,
            typer.Option(
                "--only",
                help="Comma-separated checks to run (a prefix selects a family: 'channel', 'aws'); "
                "`oaktree check` lists every check's name.",
            ),
        ] = None,
        health: Annotated[
            bool,
            typer.Option("--health", help="Only the cheap checks of the container health check."),
        ] = False,
        as_json: JsonOption = False,
    ) -> None:
        """Verify a deployment: settings, database, tables, warehouse, AWS permissions, Prefect, channels.

        Exits 1 when any check failed (skipped checks do not fail).
        """
        from oaktree.check import run_checks

        wanted = [name.strip() for name in only.split(",") if name.strip()] if only else None
        report = run_checks(current_settings, only=wanted, health=health)
        emit(report.to_dict(), as_json=as_json, human=lambda _summary: render_table(report))
        if not report.passed:
            raise typer.Exit(1)
