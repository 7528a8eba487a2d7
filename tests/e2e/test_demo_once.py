"""End to end: `oaktree demo --once --json` on a fresh sandbox (a moto server) in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from oaktree.config import load_settings
from oaktree.warehouse import connect

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """Run the demo once and return its JSON summary and its data dir."""
    data_dir = tmp_path_factory.mktemp("demo-data")
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OAKTREE_", "AWS_")) or name == "OAKTREE_BCRYPT_ROUNDS"
    }
    env["OAKTREE_DATA_DIR"] = str(data_dir)
    result = subprocess.run(
        [sys.executable, "-m", "cli", "demo", "--once", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout), data_dir / "demo"


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


def test_demo_creates_working_demo_users(demo_run: tuple[dict, Path]) -> None:
    summary, _ = demo_run
    users = {user["role"]: user for user in summary["users"]["demo_users"]}
    assert set(users) == {"admin", "viewer"}
    assert all(len(user["password"]) >= 12 for user in users.values())


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
