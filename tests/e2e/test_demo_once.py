"""End to end: `oaktree demo --once --json` on a fresh sandbox (a moto server) in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.core_commands import demo_text
from cli.demo import read_logins
from oaktree import db
from oaktree.auth import auth_context, login
from oaktree.config import load_settings
from oaktree.warehouse import connect

pytestmark = pytest.mark.e2e


def test_demo_discovers_the_fleet_in_every_region(demo_run: tuple[dict, Path]) -> None:
    summary, _ = demo_run
    per_type = summary["discovery"]["resources_by_type_and_region"]
    for region in ("ap-southeast-1", "us-east-1"):
        assert per_type["ec2_instance"][region] >= 12
        assert per_type["ecs_cluster"][region] >= 2
        assert per_type["ecs_service"][region] >= 2
        assert per_type["dynamodb_table"][region] >= 4
    assert summary["discovery"]["failures"] == []
    assert summary["discovery"]["events_written"] == summary["discovery"]["resources_total"]
    assert summary["sandbox"]["endpoint_url"].startswith("http://127.0.0.1:")


def test_demo_collects_into_both_stores_and_the_warehouse_answers(demo_run: tuple[dict, Path]) -> None:
    summary, demo_dir = demo_run
    collection = summary["collection"]
    stored = collection["datapoints_stored"]
    assert stored["dynamodb"] > 0
    assert stored["dynamodb"] == stored["warehouse"]
    assert collection["api_calls"]["GetMetricData"] >= 1
    assert collection["failed_regions"] == []

    # Exactly what the README tells a notebook to do.
    with connect(settings=load_settings(data_dir=demo_dir)) as warehouse:
        (points,) = warehouse.execute("select count(*) from metrics").fetchone()
        (resources,) = warehouse.execute("select count(*) from resources").fetchone()
        (events,) = warehouse.execute("select count(*) from events").fetchone()
        (buckets,) = warehouse.execute("select count(*) from metrics_5m").fetchone()
        (hot_cpu,) = warehouse.execute(
            "select max(value) from metrics"
            " where metric_name = 'CPUUtilization' and resource_type = 'ec2_instance'"
        ).fetchone()
    assert points == stored["warehouse"]
    assert resources == summary["discovery"]["resources_total"]
    # Discovery's events and the alert transitions' (alarm_state_changed).
    assert events == summary["discovery"]["events_written"] + summary["alerts"]["events_recorded"]
    assert buckets > 0
    # The sandbox's incident is in progress at start: one instance runs above 90 % CPU.
    assert hot_cpu > 90


def test_demo_creates_working_demo_users_whose_passwords_stay_out_of_the_json(
    demo_run: tuple[dict, Path],
) -> None:
    summary, demo_dir = demo_run
    users = {user["role"]: user["username"] for user in summary["users"]["demo_users"]}
    assert users == {"admin": "demo-admin", "operator": "demo-operator", "viewer": "demo-viewer"}
    logins_file = Path(summary["users"]["logins_file"])
    assert logins_file.parent == demo_dir
    assert logins_file.stat().st_mode & 0o777 == 0o600
    logins = read_logins(demo_dir)
    assert [(username, role) for username, _, role in logins] == [
        ("demo-admin", "admin"),
        ("demo-operator", "operator"),
        ("demo-viewer", "viewer"),
    ]
    assert all(password not in json.dumps(summary, default=str) for _, password, _ in logins)

    settings = load_settings(data_dir=demo_dir)
    with db.session_scope(settings=settings) as session:
        for username, password, role in logins:
            result = login(
                session=session, ctx=auth_context(settings), identifier=username, password=password
            )
            assert result.principal.roles == (role,)


def test_demo_holds_the_six_hours_the_sandbox_wrote(demo_run: tuple[dict, Path]) -> None:
    _, demo_dir = demo_run
    with connect(settings=load_settings(data_dir=demo_dir)) as warehouse:
        (span_minutes,) = warehouse.execute(
            "select date_diff('minute', min(ts), max(ts)) from metrics where metric_name = 'CPUUtilization'"
        ).fetchone()
    assert span_minutes >= 355


def test_demo_fires_on_the_incident_and_the_loopback_sinks_receive_it(demo_run: tuple[dict, Path]) -> None:
    summary, _ = demo_run
    alerts = summary["alerts"]
    incident = summary["sandbox"]["fleet"]
    alarms = sorted(
        (t["rule"], t["resource_id"], t["from"], t["to"]) for t in alerts["transitions"] if t["to"] == "ALARM"
    )
    # The incident instance and the throttling table of each region, and nothing else.
    expected = []
    for region in ("ap-southeast-1", "us-east-1"):
        fleet = incident[region]
        table_arn = next(
            t["resource_id"]
            for t in alerts["transitions"]
            if t["rule"] == "table-throttling"
            and fleet["incident_table"] in t["resource_id"]
            and region in t["resource_id"]
        )
        expected += [
            ("incident-cpu", fleet["incident_instance_id"], "INSUFFICIENT_DATA", "ALARM"),
            ("table-throttling", table_arn, "INSUFFICIENT_DATA", "ALARM"),
        ]
    assert alarms == sorted(expected)
    assert all(t["to"] in {"OK", "ALARM"} for t in alerts["transitions"])
    assert alerts["notifications"]["sent"] == 2 * len(expected)
    assert alerts["events_recorded"] == len(alerts["transitions"])

    mail = alerts["sinks"]["mail"]["received"]
    hooks = alerts["sinks"]["webhook"]["received"]
    assert len(mail) == len(hooks) == len(expected)
    assert all(
        message["to"] == ["oncall@example.com"] and message["subject"].startswith("[ALARM] ")
        for message in mail
    )
    assert sorted(
        (h["rule"], h["resource_id"], h["from_state"], h["to_state"], h["kind"]) for h in hooks
    ) == sorted((rule, resource, before, after, "trigger") for rule, resource, before, after in expected)


def test_demo_summary_in_words_points_at_the_incident_and_where_to_look(demo_run: tuple[dict, Path]) -> None:
    summary, demo_dir = demo_run
    logins = read_logins(demo_dir)
    text = demo_text(summary, logins=logins)
    for region, fleet in summary["sandbox"]["fleet"].items():
        instances = summary["discovery"]["resources_by_type_and_region"]["ec2_instance"][region]
        assert f"  {region}: {instances} EC2 instances" in text
        assert f"instance {fleet['incident_instance_id']} above 90 % CPU" in text
        assert f"table {fleet['incident_table']} throttling" in text
    assert "Incident in progress since " in text
    assert f"Warehouse    {summary['warehouse']}" in text
    assert "Prefect UI   " in text and "Dashboard    " in text
    assert f"export AWS_ENDPOINT_URL={summary['sandbox']['endpoint_url']}" in text
    for username, password, role in logins:
        assert f"{username} / {password}  ({role})" in text


def test_demo_logs_only_json_lines_at_the_configured_level(demo_run: tuple[dict, Path]) -> None:
    _, demo_dir = demo_run
    lines = [line for line in (demo_dir.parent / "stderr.log").read_text().splitlines() if line.strip()]
    assert lines, "the demo logs its steps"
    records = [json.loads(line) for line in lines]  # a plain-text line fails here
    assert {record["level"] for record in records} <= {"info", "warning", "error"}
    assert any(record["event"] == "demo_step_done" for record in records)
