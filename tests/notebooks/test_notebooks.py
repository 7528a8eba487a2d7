"""The notebooks run top to bottom against a warehouse of sandbox history, so they never rot."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from oaktree.config import Settings
from sandbox.metric_generator import Role
from tests.analytics.conftest import (
    FLEET,
    sandbox_settings,  # noqa: F401  (the lake, a session fixture)
)

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _run(name: str) -> str:
    """Execute a notebook in a fresh kernel; return the text of all its outputs."""
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(texts)


@pytest.fixture
def sandbox_data_dir(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the notebooks' kernel (which inherits the environment) at the sandbox lake."""
    settings: Settings = request.getfixturevalue("sandbox_settings")
    monkeypatch.setenv("OAKTREE_DATA_DIR", str(settings.data_dir))


def test_fleet_overview_runs(sandbox_data_dir: None) -> None:
    output = _run("fleet_overview")

    assert "Analysing up to 2026-03-16 12:00 UTC" in output
    assert "api-2" in output  # the week-over-week table names the fleet


def test_incident_investigation_finds_the_sandbox_incident(sandbox_data_dir: None) -> None:
    output = _run("incident_investigation")

    incident = next(sim.resource.resource_id for sim in FLEET if sim.role is Role.INCIDENT)
    assert incident in output
    assert "No anomalies in the last 24 hours." not in output
