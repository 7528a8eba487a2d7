"""Starting and stopping sandboxes: determinism, ports, the endpoint environment."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from oaktree import aws
from oaktree.catalogue import specs_for
from oaktree.config import load_settings
from oaktree.inventory import ResourceType
from sandbox.fleet import plan_fleet
from sandbox.server import (
    Sandbox,
    SandboxPortInUseError,
    point_clients_at,
    restore_environment,
    start_sandbox,
)

REGION = "eu-west-1"
START = datetime(2026, 5, 17, 22, 4, 10, tzinfo=UTC)
CPU = specs_for(ResourceType.EC2_INSTANCE)[0]


def _start(seed: int, port: int = 0, **options: object) -> Sandbox:
    settings = load_settings(regions=(REGION,))
    kwargs = {"backfill_hours": 0.25, "live": False, "now": START, **options}
    return start_sandbox(port=port, regions=[REGION], seed=seed, settings=settings, **kwargs)


def _observed(sandbox: Sandbox) -> dict[str, object]:
    """Return what a client sees of the fleet: instances with types and tags, and CPU values."""
    pages = aws.client("ec2", REGION).get_paginator("describe_instances").paginate()
    instances = {
        i["InstanceId"]: (
            i["InstanceType"],
            i["State"]["Name"],
            sorted((t["Key"], t["Value"]) for t in i.get("Tags", [])),
        )
        for page in pages
        for reservation in page["Reservations"]
        for i in reservation["Instances"]
    }
    queries = [
        {
            "Id": f"q{n}",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/EC2",
                    "MetricName": "CPUUtilization",
                    "Dimensions": [{"Name": "InstanceId", "Value": iid}],
                },
                "Period": 60,
                "Stat": "Average",
            },
        }
        for n, iid in enumerate(sorted(instances))
    ]
    results = aws.client("cloudwatch", REGION).get_metric_data(
        MetricDataQueries=queries, StartTime=START - timedelta(hours=1), EndTime=START
    )["MetricDataResults"]
    return {
        "instances": instances,
        "cpu": {r["Id"]: r["Values"] for r in results},
        "summary": sandbox.summary(),
    }


@pytest.fixture
def busy_port() -> Iterator[int]:
    """Return a port something is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_same_seed_gives_the_same_fleet_ids_and_values() -> None:
    with _start(seed=7) as first:
        seen_first = _observed(first)
    with _start(seed=7) as second:
        seen_second = _observed(second)
    for seen in (seen_first, seen_second):  # where each server listened differs, nothing else
        for where in ("endpoint_url", "port", "environment"):
            seen["summary"].pop(where)
    assert seen_first == seen_second
    assert len(seen_first["instances"]) == 14
    assert sum(1 for values in seen_first["cpu"].values() if len(values) == 15) == 11


def test_another_seed_gives_another_fleet() -> None:
    assert plan_fleet(seed=7, region=REGION) != plan_fleet(seed=8, region=REGION)
    with _start(seed=7) as first:
        seen_first = _observed(first)
    with _start(seed=8) as second:
        seen_second = _observed(second)
    assert set(seen_first["instances"]).isdisjoint(seen_second["instances"])
    assert sorted(seen_first["cpu"].values()) != sorted(seen_second["cpu"].values())


def test_port_in_use_is_refused_at_once(busy_port: int) -> None:
    with pytest.raises(SandboxPortInUseError, match=f"port {busy_port} on 127.0.0.1 is in use"):
        _start(seed=1, port=busy_port)
    assert "AWS_ENDPOINT_URL" not in os.environ


def test_chosen_port_is_used_and_freed_on_stop() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with _start(seed=1, port=port, backfill_hours=0) as sandbox:
        assert sandbox.port == port
        assert os.environ["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{port}"
        assert aws.client("sts", REGION).get_caller_identity()["Account"] == "123456789012"
    # Stopped: the port can be bound again and the endpoint variable is gone.
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
    assert "AWS_ENDPOINT_URL" not in os.environ


def test_live_writer_thread_runs_until_stop() -> None:
    sandbox = _start(seed=1, backfill_hours=0, live=True, now=None)
    assert sandbox.writer is not None
    assert sandbox.writer.running
    # The first live minute is the one the sandbox started in; the backfill ends just before it.
    assert sandbox.writer.next_minute <= datetime.now(UTC) < sandbox.writer.next_minute + timedelta(minutes=2)
    sandbox.stop()
    assert not sandbox.writer.running
    sandbox.stop()  # idempotent
    assert "AWS_ENDPOINT_URL" not in os.environ


def test_point_clients_at_adds_credentials_only_when_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    previous = point_clients_at("http://127.0.0.1:1")
    assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert os.environ["AWS_ACCESS_KEY_ID"] == "sandbox"
    restore_environment(previous)
    assert "AWS_ENDPOINT_URL" not in os.environ
    assert "AWS_ACCESS_KEY_ID" not in os.environ

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "mine")
    previous = point_clients_at("http://127.0.0.1:2")
    assert os.environ["AWS_ACCESS_KEY_ID"] == "mine"
    assert set(previous) == {"AWS_ENDPOINT_URL"}
    restore_environment(previous)
