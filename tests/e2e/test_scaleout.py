"""Many workers: `scripts/scaleout_demo.py` end to end (two Prefect process workers, two accounts,
four account-regions, a PostgreSQL-catalog DuckLake on the moto server's S3, a killed worker)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "scaleout_demo.py"

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.timeout(1500)]


def test_two_workers_store_every_point_once_and_a_killed_worker_loses_nothing() -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("OAKTREE_", "AWS_"))}
    result = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=1400, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout)

    assert report["stored_exactly_once"] is True
    assert report["overlapping_collections"] == []
    assert report["workers_used"] == ["worker-a", "worker-b"]
    after_kill = report["after_kill"]
    assert after_kill["states"] == {"COMPLETED": after_kill["runs"]}
    one_worker = report["one_worker"]
    assert one_worker["state"] == "COMPLETED" and one_worker["series_per_minute"] > 0
