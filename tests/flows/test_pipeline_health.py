"""Pipeline health read from a real Prefect API (the session's test server), and an unreachable one."""

from __future__ import annotations

import socket

import pytest
from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL
from prefect.states import Completed, Failed, Running

from oaktree.pipeline_health import PrefectUnreachable, flow_health, latest_artifact


@flow(name="health_probe_ok")
def _succeeds() -> int:
    create_markdown_artifact(
        key="health-probe", markdown="| region | series |\n|---|---|\n| us-east-1 | 42 |"
    )
    return 1


@flow(name="health_probe_failing", retries=0)
def _fails() -> None:
    raise RuntimeError("boom")


def test_each_flow_shows_its_last_run_failures_and_a_link(prefect: None) -> None:
    _succeeds()
    _succeeds()
    with pytest.raises(RuntimeError):
        _fails()
    api_url = PREFECT_API_URL.value()

    rows = {row.flow: row for row in flow_health(api_url)}

    ok, failing = rows["health_probe_ok"], rows["health_probe_failing"]
    assert (ok.last_state, ok.runs_last_day, ok.failed_last_day) == ("Completed", 2, 0)
    assert (failing.last_state, failing.failed_last_day) == ("Failed", 1)
    assert ok.last_seconds is not None and ok.last_started is not None
    assert ok.run_url.startswith(api_url.removesuffix("/api") + "/runs/flow-run/")
    assert "us-east-1 | 42" in latest_artifact(api_url, "health-probe")
    assert latest_artifact(api_url, "no-such-artifact") is None


@flow(name="health_probe_busy")
def _busy() -> None:
    """Never called: its runs are created through the API, as a busy schedule would leave them."""


def test_a_busy_flow_is_counted_beyond_one_page_of_runs(prefect: None) -> None:
    # Collection runs every minute: a day holds far more runs than one page of the API (200).
    completed = 200
    with get_client(sync_client=True) as client:
        for final in [*(Completed() for _ in range(completed)), Failed()]:
            run = client.create_flow_run(_busy, state=Running())
            client.set_flow_run_state(run.id, final, force=True)

    busy = next(row for row in flow_health(PREFECT_API_URL.value()) if row.flow == "health_probe_busy")

    assert (busy.runs_last_day, busy.failed_last_day, busy.last_state) == (completed + 1, 1, "Failed")


def test_an_unreachable_api_is_one_clear_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(PrefectUnreachable, match=f"127.0.0.1:{port}"):
        flow_health(f"http://127.0.0.1:{port}/api", timeout=2)
