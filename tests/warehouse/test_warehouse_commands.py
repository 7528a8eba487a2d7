"""`oaktree warehouse init|status|retention` (registered on a local app; the lead wires it into the CLI)."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from cli import warehouse_commands
from oaktree.config import Settings
from oaktree.logs import configure_logging
from oaktree.warehouse.points import write_points
from tests.warehouse.builders import points


def _app() -> typer.Typer:
    app = typer.Typer()
    warehouse_commands.register(app)

    @app.callback()
    def main() -> None:
        """Log to stderr as the real entry point does, so stdout holds only the JSON."""
        configure_logging()

    return app


def test_init_then_status_as_json(settings: Settings) -> None:
    runner = CliRunner()
    init = runner.invoke(_app(), ["warehouse", "init", "--json"])
    assert init.exit_code == 0, init.output
    assert json.loads(init.stdout) == {"path": str(settings.warehouse_path.resolve()), "rewritten": True}

    write_points(settings.warehouse_dir, points([1, 2]))
    status = runner.invoke(_app(), ["warehouse", "status", "--json"])

    summary = json.loads(status.stdout)
    assert summary["rows"]["metrics"] == 2
    assert summary["latest_point"] == "2024-03-10T00:01:00+00:00"


def test_retention_reports_per_resolution(settings: Settings) -> None:
    write_points(settings.warehouse_dir, points([1]))  # 2024: long expired by today's clock

    result = CliRunner().invoke(_app(), ["warehouse", "retention", "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["partitions_deleted"] == {"1m": 1, "5m": 0, "1h": 0, "1d": 0}


def test_bad_configuration_is_one_line_and_exit_2(monkeypatch) -> None:
    monkeypatch.setenv("OAKTREE_WAREHOUSE_RETENTION_1M_DAYS", "0")

    result = CliRunner().invoke(_app(), ["warehouse", "retention"])

    assert result.exit_code == 2
    assert "OAKTREE_WAREHOUSE_RETENTION_1M_DAYS" in result.stderr
