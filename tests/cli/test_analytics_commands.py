"""`oaktree analytics ...` on a day of sandbox history: anomalies, recommendations, forecasts, run."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from cli import app
from oaktree.analytics.pipeline import analysis_end
from oaktree.config import Settings
from oaktree.storage.tables import ensure_tables
from oaktree.warehouse import connect, read
from sandbox.metric_generator import Role
from tests.analytics.conftest import build_day_of_sandbox

runner = CliRunner()


def _json(*args: str) -> dict:
    result = runner.invoke(app, ["analytics", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_anomalies_recommendations_and_forecasts_read_the_warehouse(settings: Settings) -> None:
    fleet = build_day_of_sandbox(settings, analysis_end())
    incident = next(sim.resource.resource_id for sim in fleet if sim.role is Role.INCIDENT)

    anomalies = _json("anomalies")
    assert len(anomalies["episodes"]) == 4
    assert {episode["resource_id"] for episode in anomalies["episodes"]} == {incident}
    assert all(episode["peak_value"] > 90 for episode in anomalies["episodes"])

    recommendations = _json("recommendations", "--days", "1")
    # With one day as the window, the idle instance is evidence enough.
    idle = next(sim.resource.resource_id for sim in fleet if sim.role is Role.IDLE)
    assert [(row["resource_id"], row["kind"]) for row in recommendations["recommendations"]] == [
        (idle, "ec2_idle")
    ]
    assert recommendations["prices_as_of"]

    forecasts = _json("forecasts")
    assert {row["resource_id"] for row in forecasts["forecasts"]} == {
        sim.resource.resource_id for sim in fleet
    }
    assert _json("forecast") == forecasts  # the singular spelling is the same command

    text = runner.invoke(app, ["analytics", "anomalies"])
    assert text.exit_code == 0 and text.output.startswith("resource_id")
    with connect(settings=settings) as connection:
        assert read.table_counts(connection)["anomalies"] == 0  # reading commands write nothing


def test_run_stores_the_findings_and_prints_the_headline(aws: None, settings: Settings) -> None:
    ensure_tables(
        metrics_table=settings.metrics_table,
        events_table=settings.events_table,
        region=settings.storage_region,
    )
    build_day_of_sandbox(settings, analysis_end())

    result = runner.invoke(app, ["analytics", "run"])

    assert result.exit_code == 0, result.output
    assert "- 4 anomaly episode(s) in the last 24 hours" in result.output
    with connect(settings=settings) as connection:
        counts = read.table_counts(connection)
    assert counts["anomalies"] > 0 and counts["forecasts"] == 3 * 24


def test_the_command_module_imports_no_heavy_module() -> None:
    code = (
        "import sys, cli.analytics_commands; "
        "print(sorted(m for m in ('pandas', 'duckdb', 'statsmodels', 'pyarrow') if m in sys.modules))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    assert output.strip() == "[]"
