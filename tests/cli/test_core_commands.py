"""The foundation commands: one-line errors with exit code 2, JSON output, JSON-lines logs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cli import app
from oaktree.config import Settings
from tests.fleet import REGIONS, Fleet

runner = CliRunner()


def _run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a subprocess (exit codes and stderr as a user sees them)."""
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("OAKTREE_REGIONS", "eu-west-1,mars-north-9", "unknown AWS region(s): mars-north-9"),
        ("OAKTREE_REGIONS", " , ", "at least one region is required"),
        ("OAKTREE_DATABASE_URL", "not a url at all", "cannot parse database URL"),
        ("OAKTREE_DATABASE_URL", "mysql://root@localhost/oaktree", "must be sqlite:/// or postgresql"),
        ("OAKTREE_SANDBOX_PORT", "99999", "OAKTREE_SANDBOX_PORT"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9", "cannot reach the AWS endpoint"),
    ],
)
def test_bad_configuration_is_one_line_and_exit_2(variable: str, value: str, message: str) -> None:
    result = _run_cli("discover", "--json", env={variable: value})
    assert result.returncode == 2
    assert result.stdout == ""
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("oaktree: error:")]
    assert len(error_lines) == 1 and message in error_lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OAKTREE_LOG_LEVEL", "bogus"),
        ("OAKTREE_JWT_TTL_HOURS", "1" + "0" * 30),
        ("OAKTREE_WAREHOUSE_RETENTION_1D_DAYS", "1" + "0" * 30),
        ("OAKTREE_JWT_SECRET_ARN", ""),
        ("OAKTREE_HOME_REGION", "mars-1"),
        ("OAKTREE_METRICS_TABLE", ""),
    ],
)
def test_a_bad_setting_is_exactly_one_line_and_exit_2(variable: str, value: str) -> None:
    # `db status` reads the settings and nothing from AWS: all that can fail here is the setting.
    result = _run_cli("db", "status", env={variable: value})
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(f"oaktree: error: invalid configuration: {variable}: ")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_production_mode_refuses_to_start_without_a_jwt_secret() -> None:
    result = _run_cli("discover", env={"OAKTREE_MODE": "production", "OAKTREE_BCRYPT_ROUNDS": "12"})
    assert result.returncode == 2
    assert "OAKTREE_JWT_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


def test_discover_json_lists_resources_and_changes(fleet: Fleet, discovery_settings: Settings) -> None:
    first = runner.invoke(app, ["discover", "--json"])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    ids = {resource["resource_id"] for resource in summary["resources"]}
    assert set(fleet.instances[REGIONS[0]]) <= ids
    assert len(summary["changes"]) == summary["resources_total"] == summary["events_written"]

    second = runner.invoke(app, ["discover", "--json"])
    assert json.loads(second.stdout)["changes"] == []


def test_bootstrap_is_idempotent(aws: None, settings: Settings) -> None:
    first = runner.invoke(app, ["bootstrap", "--json"])
    second = runner.invoke(app, ["bootstrap", "--json"])
    assert first.exit_code == second.exit_code == 0
    created = {settings.metrics_table: True, settings.events_table: True}
    assert json.loads(first.stdout)["tables_created"] == created
    assert json.loads(second.stdout)["tables_created"] == dict.fromkeys(created, False)


def test_an_unreachable_endpoint_is_reported_before_missing_credentials() -> None:
    no_credentials = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run(
        [sys.executable, "-m", "cli", "discover"],
        capture_output=True,
        text=True,
        env={**no_credentials, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "oaktree: error: cannot reach the AWS endpoint (http://127.0.0.1:9)"
    )


def test_logs_are_json_lines() -> None:
    result = _run_cli("discover", env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
    log_lines = [line for line in result.stderr.splitlines() if line.startswith("{")]
    for line in log_lines:
        record = json.loads(line)
        assert {"event", "level", "timestamp"} <= record.keys()


def test_demo_on_a_port_in_use_is_one_line_and_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run_cli("demo", "--once", "--port", str(port))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("oaktree: error:")]
