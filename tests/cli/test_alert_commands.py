"""`oaktree alerts ...`: JSON output, one-line errors, and a pass that fires on fresh data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli import app
from oaktree import db
from oaktree.config import load_settings
from oaktree.storage.tables import ensure_tables
from sandbox.sinks import WebhookSink
from tests.alerts.estate import API, WEB, minute_points, save_estate, write

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
SEED_ALARMS = ROOT / "docs" / "alerts-seed-alarms.yaml"


@pytest.fixture(autouse=True)
def _close_pools() -> Iterator[None]:
    yield
    db.dispose_engines()


def _ok(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(result.stdout)


def _error(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("{")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_apply_list_silence_and_history() -> None:
    assert (
        _error("alerts", "list")
        == "oaktree: error: the database is empty, not 0004; run `oaktree db upgrade`"
    )
    _ok("db", "upgrade")
    applied = _ok("alerts", "apply", str(SEED_ALARMS))
    assert applied["rules"]["created"] == ["high-cpu", "high-memory", "api-errors", "slow-responses"]
    assert _ok("alerts", "apply", str(SEED_ALARMS))["rules"]["unchanged"] == applied["rules"]["created"]

    listed = _ok("alerts", "list")
    assert [rule["name"] for rule in listed["rules"]] == [
        "api-errors",
        "high-cpu",
        "high-memory",
        "slow-responses",
    ]
    assert {c["name"]: c.get("url") for c in listed["channels"]}[
        "ops-slack"
    ] == "secretsmanager:oaktree/channels/slack-webhook-url"

    silence = _ok("alerts", "silence", "add", "--rule", "high-cpu", "--for", "30", "--comment", "deploy")
    window = _ok("alerts", "silence", "add", "--tag", "env=prod", "--weekly", "sat,sun 02:00-04:00")
    assert (silence["rule"], silence["active"], window["weekly_windows"][0]["days"]) == (
        "high-cpu",
        True,
        ["sat", "sun"],
    )
    assert [s["id"] for s in _ok("alerts", "silence", "list")["silences"]] == [silence["id"], window["id"]]
    assert _ok("alerts", "silence", "end", str(silence["id"]))["active"] is False
    assert _ok("alerts", "history") == {"transitions": [], "channels": []}


def test_bad_input_is_one_line_and_stores_nothing(tmp_path: Path) -> None:
    _ok("db", "upgrade")
    document = yaml.safe_load(SEED_ALARMS.read_text())
    document["rules"][0]["comparison_operator"] = "Above"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(document))
    assert _error("alerts", "apply", str(bad)) == (
        "oaktree: error: invalid: rules[0] high-cpu: comparison_operator: 'Above' is not one of "
        "GreaterThanThreshold, GreaterThanOrEqualToThreshold, LessThanThreshold, LessThanOrEqualToThreshold, "
        "LessThanLowerOrGreaterThanUpperThreshold, GreaterThanUpperThreshold, LessThanLowerThreshold"
    )
    assert _error("alerts", "apply", str(tmp_path / "missing.yaml")).endswith(
        "no rules file at " + str(tmp_path / "missing.yaml")
    )
    assert _error("alerts", "silence", "add", "--for", "10") == (
        "oaktree: error: invalid: rule: a silence must match a rule, a resource_id or a tag (or several)"
    )
    assert _error("alerts", "silence", "end", "42") == "oaktree: error: no silence 42"
    assert _error("alerts", "silence", "add", "--rule", "x", "--until", "soon") == (
        "oaktree: error: --until must be an ISO date or time, got 'soon'"
    )
    assert _ok("alerts", "list")["rules"] == []


def test_evaluate_once_fires_sends_and_records_then_backtest_agrees(aws: None, tmp_path: Path) -> None:
    settings = load_settings()
    ensure_tables(
        metrics_table=settings.metrics_table,
        events_table=settings.events_table,
        region=settings.storage_region,
    )
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    save_estate(settings)
    write(
        settings,
        minute_points(WEB, [50] * 5 + [97] * 5, start=start),
        minute_points(API, [50] * 10, start=start),
    )
    with WebhookSink() as hook:
        rules = {
            "channels": [{"name": "hook", "type": "webhook", "url": f"{hook.url}/oaktree"}],
            "rules": [
                {
                    "name": "hot",
                    "resource_type": "ec2_instance",
                    "selector": {"tags": {"env": "prod"}, "region": "us-east-1"},
                    "metric_name": "CPUUtilization",
                    "statistic": "Average",
                    "period": 60,
                    "evaluation_periods": 3,
                    "datapoints_to_alarm": 3,
                    "threshold": 90,
                    "comparison_operator": "GreaterThanThreshold",
                    "channels": ["hook"],
                }
            ],
        }
        path = tmp_path / "rules.yaml"
        path.write_text(yaml.safe_dump(rules))
        _ok("db", "upgrade")
        _ok("alerts", "apply", str(path))
        first = _ok("alerts", "evaluate", "--once")
        second = _ok("alerts", "evaluate", "--once")
        received = hook.received()
    assert sorted((t["rule"], t["resource_id"], t["from"], t["to"]) for t in first["transitions"]) == [
        ("hot", "i-api", "INSUFFICIENT_DATA", "OK"),
        ("hot", "i-web", "INSUFFICIENT_DATA", "ALARM"),
    ]
    assert (first["notifications"]["sent"], first["events_recorded"]) == (1, 2)
    assert (second["transitions"], second["notifications"]["sent"], second["events_recorded"]) == ([], 0, 0)
    assert [r["body"]["to_state"] for r in received] == ["ALARM"]
    history = _ok("alerts", "history", "--resource", "i-web")
    [transition] = history["transitions"]
    assert transition["notifications"][0]["status"] == "sent"
    assert history["channels"] == [
        {"channel": "hook", "by_status": {"sent": 1}, "last_error": None, "last_error_at": None}
    ]

    backtest = _ok("alerts", "backtest", str(path), "--days", "1")
    [result] = backtest["rules"]
    assert result["fired"] == 1
    assert {r["resource_id"]: r["fired"] for r in result["resources"]} == {"i-api": 0, "i-web": 1}
    assert (
        _error("alerts", "backtest", str(path), "--rule", "nope")
        == f"oaktree: error: no rule named 'nope' in {path}"
    )


def test_the_demo_lists_its_alarms_and_what_the_sinks_received() -> None:
    from cli.demo_alerts import alerts_text

    summary = {
        "transitions": [
            {"rule": "incident-cpu", "resource_id": "i-1", "from": "INSUFFICIENT_DATA", "to": "ALARM"},
            {"rule": "incident-cpu", "resource_id": "i-2", "from": "INSUFFICIENT_DATA", "to": "OK"},
        ],
        "sinks": {
            "mail": {
                "address": "127.0.0.1:2525",
                "received": [{"to": ["a@example.com"], "subject": "[ALARM] x"}],
            },
            "webhook": {"url": "http://127.0.0.1:1/oaktree", "received": [{"rule": "incident-cpu"}]},
        },
    }
    assert alerts_text(summary) == [
        "alerts: 2 transitions, 1 to ALARM:",
        "  incident-cpu on i-1: INSUFFICIENT_DATA -> ALARM",
        "mail sink 127.0.0.1:2525 received 1 message(s):",
        "  [ALARM] x",
        "webhook sink http://127.0.0.1:1/oaktree received 1 document(s)",
    ]
