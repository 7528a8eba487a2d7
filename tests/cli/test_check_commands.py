"""`oaktree check`: the table, --json, exit codes, and a bad setting reported in the table."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from cli import app
from oaktree import db

runner = CliRunner()


@pytest.fixture(autouse=True)
def _close_pools() -> Iterator[None]:
    yield
    db.dispose_engines()


def test_table_lists_failures_with_their_fix_and_exits_1() -> None:
    result = runner.invoke(app, ["check", "--only", "configuration,database"])

    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["check", "target", "detail"]
    assert lines[1].split()[:3] == ["ok", "configuration", "OAKTREE_MODE"]
    assert lines[3].split()[:3] == ["FAIL", "database", "migrations"]
    assert lines[4].strip() == "fix: run `oaktree db upgrade`"
    assert lines[-1] == "2 passed, 1 failed, 0 skipped"


def test_json_and_exit_0_once_migrated() -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0

    result = runner.invoke(app, ["check", "--health", "--json"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["passed"] is True
    assert report["counts"] == {"passed": 3, "failed": 0, "skipped": 1}
    assert [(r["check"], r["status"]) for r in report["results"]] == [
        ("configuration", "passed"),
        ("database", "passed"),
        ("database", "passed"),
        ("service", "skipped"),
    ]


def test_a_bad_setting_is_a_failed_row_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAKTREE_SMTP_PORT", "70000")

    result = runner.invoke(app, ["check", "--json"])

    assert result.exit_code == 1
    first = json.loads(result.stdout)["results"][0]
    assert (first["check"], first["status"]) == ("configuration", "failed")
    assert "OAKTREE_SMTP_PORT" in first["detail"]
    # Any other command still refuses to start with the same setting: one line, exit 2.
    other = runner.invoke(app, ["db", "status"])
    assert other.exit_code == 2
    assert "OAKTREE_SMTP_PORT" in other.stderr


def test_unknown_check_name_is_a_usage_error() -> None:
    result = runner.invoke(app, ["check", "--only", "databse"])

    assert result.exit_code == 2
    assert "unknown check(s): databse" in result.stderr
