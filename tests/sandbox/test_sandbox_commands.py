"""`oaktree sandbox`: a one-line error for a taken port; start, JSON summary, clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from cli import app

runner = CliRunner()


@pytest.fixture
def busy_port() -> Iterator[int]:
    """Return a port something is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_port_in_use_from_settings_is_a_one_line_error(
    busy_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OAKTREE_SANDBOX_PORT", str(busy_port))
    result = runner.invoke(app, ["sandbox", "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"oaktree: error: port {busy_port} on 127.0.0.1 is in use (Address already in use); "
        "choose another with --port\n"
    )


def test_port_in_use_from_option_is_a_one_line_error(busy_port: int) -> None:
    result = runner.invoke(app, ["sandbox", "--port", str(busy_port)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert f"port {busy_port} on 127.0.0.1 is in use" in result.stderr


def test_sandbox_serves_until_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "OAKTREE_REGIONS": "eu-central-1", "OAKTREE_SANDBOX_SEED": "5"}
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "sandbox", "--port", "0", "--backfill-hours", "0.1", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        summary = json.loads(process.stdout.readline())
        assert summary["regions"] == ["eu-central-1"]
        assert summary["seed"] == 5
        assert summary["endpoint_url"] == f"http://127.0.0.1:{summary['port']}"
        fleet = summary["fleet"]["eu-central-1"]
        assert (fleet["instances"], fleet["running_instances"], fleet["stopped_instances"]) == (14, 11, 3)
        assert "oaktree-cluster" in fleet["clusters"]
        # Any client reaches it through the standard endpoint setting.
        ec2 = boto3.client("ec2", region_name="eu-central-1", endpoint_url=summary["endpoint_url"])
        reservations = ec2.describe_instances()["Reservations"]
        assert sum(len(r["Instances"]) for r in reservations) == 14
        # Another terminal needs only the printed exports: no credentials of its own.
        other_terminal = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OAKTREE_"))},
            **summary["environment"],
            "OAKTREE_REGIONS": "eu-central-1",
            "OAKTREE_DATA_DIR": str(tmp_path / "other-terminal"),
        }
        assert set(summary["environment"]) == {
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_DEFAULT_REGION",
        }
        discovered = subprocess.run(
            [sys.executable, "-m", "cli", "discover", "--json"],
            capture_output=True,
            text=True,
            env=other_terminal,
            timeout=120,
            check=False,
        )
        assert discovered.returncode == 0, discovered.stderr[-2000:]
        assert json.loads(discovered.stdout)["resources_total"] >= 14
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    events = [json.loads(line)["event"] for line in stderr.splitlines()]
    assert events[-1] == "sandbox_stopped"
    assert "sandbox_started" in events
