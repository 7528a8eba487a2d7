"""`oaktree warehouse status|retention|compact`, and the lake that writers create by themselves."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli import app
from oaktree.config import Settings
from oaktree.warehouse.points import write_points
from tests.warehouse.builders import points

runner = CliRunner()


def test_status_on_a_lake_created_by_its_first_write(settings: Settings) -> None:
    write_points(settings, points([1, 2]))  # no init step: writing creates the lake

    status = runner.invoke(app, ["warehouse", "status", "--json"])

    assert status.exit_code == 0, status.output
    summary = json.loads(status.stdout)
    assert summary["rows"]["metrics"] == 2
    assert summary["rows"]["resources"] == 0
    assert summary["newest_point"] == "2024-03-10T00:01:00+00:00"
    assert summary["catalog"].endswith("warehouse.sqlite")
    assert summary["data_path"].endswith("/warehouse/")


def test_status_before_anything_was_written_says_how_to_start(settings: Settings) -> None:
    status = runner.invoke(app, ["warehouse", "status"])

    assert status.exit_code == 2
    assert status.stderr.startswith("oaktree: error: no warehouse at ")
    assert "oaktree discover" in status.stderr


def test_retention_and_compaction_report_per_table(settings: Settings) -> None:
    write_points(settings, points([1]))  # 2024: long expired by today's clock

    retention = runner.invoke(app, ["warehouse", "retention", "--json"])
    compaction = runner.invoke(app, ["warehouse", "compact", "--json"])

    assert retention.exit_code == 0, retention.output
    assert json.loads(retention.stdout)["rows_deleted"] == {
        "metrics": 1,
        "metrics_5m": 0,
        "metrics_1h": 0,
        "metrics_1d": 0,
        "events": 0,
        "anomalies": 0,
        "forecasts": 0,
    }
    assert compaction.exit_code == 0, compaction.output
    assert json.loads(compaction.stdout)["merged"] is False  # SQLite catalog


@pytest.mark.parametrize(
    ("name", "value"),
    [("OAKTREE_WAREHOUSE_RETENTION_1M_DAYS", "0"), ("OAKTREE_WAREHOUSE_CATALOG", "mysql://db/lake")],
)
def test_bad_configuration_is_one_line_and_exit_2(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    result = runner.invoke(app, ["warehouse", "retention"])

    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("oaktree: error: ")
