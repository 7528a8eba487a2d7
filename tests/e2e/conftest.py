"""The demo, run once for every end-to-end module: `oaktree demo --once --json` on a fresh sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
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
    (data_dir / "stderr.log").write_text(result.stderr)
    return json.loads(result.stdout), data_dir / "demo"
