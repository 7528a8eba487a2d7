"""The README's code blocks work as written, after the demo, from the project directory.

Every ```python and ```sql block is meant to run: each runs in a fresh process whose working
directory looks like the project after `make demo` (`.oaktree/demo` is the demo's data dir and
`.venv` the project's virtualenv). The ```bash blocks start the demo and the tests themselves and
are not run here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.DOTALL | re.MULTILINE)


def readme_blocks(language: str) -> list[str]:
    """Return the README's fenced code blocks of one language."""
    return [code for lang, code in BLOCK.findall(README.read_text()) if lang == language]


@pytest.fixture(scope="module")
def project_after_demo(demo_run: tuple[dict, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a directory laid out like the project after `make demo`."""
    _, demo_dir = demo_run
    project = tmp_path_factory.mktemp("project")
    (project / ".oaktree").mkdir()
    (project / ".oaktree" / "demo").symlink_to(demo_dir)
    (project / ".venv").symlink_to(Path(sys.prefix))
    return project


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_readme_has_runnable_blocks() -> None:
    assert readme_blocks("python") and readme_blocks("sql")


@pytest.mark.parametrize("code", readme_blocks("python"), ids=lambda code: code.splitlines()[0][:40])
def test_python_block_runs(code: str, project_after_demo: Path) -> None:
    result = _run(code, project_after_demo)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "i-" in result.stdout  # instance ids: the blocks print rows, not empty frames


@pytest.mark.parametrize("sql", readme_blocks("sql"), ids=lambda sql: sql.splitlines()[-1][:40])
def test_sql_block_runs_in_plain_duckdb(sql: str, project_after_demo: Path) -> None:
    # Plain DuckDB with autoloading off, as an analyst's shell would be offline.
    runner = (
        "import duckdb, sys\n"
        "off = {'autoload_known_extensions': False, 'autoinstall_known_extensions': False}\n"
        "con = duckdb.connect(config=off)\n"
        "result = None\n"
        "for statement in filter(str.strip, sys.stdin.read().split(';')):\n"
        "    result = con.sql(statement)\n"
        "print(result.fetchall())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", runner],
        input=sql,
        cwd=project_after_demo,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "us-east-1" in result.stdout
