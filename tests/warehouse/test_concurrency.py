"""The lake under load, across processes: readers never fail or go back, writers never lose a batch."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from oaktree.config import Settings, load_settings
from oaktree.warehouse import connect
from oaktree.warehouse.lake import open_for_writing
from oaktree.warehouse.points import write_points
from tests.warehouse.builders import points
from tests.warehouse.workload import RECENT, SERIES

PROJECT_DIR = Path(__file__).resolve().parents[2]
MINUTES = 20
REGIONS = ("us-east-1", "eu-west-1")
# Seconds between a collector's commits: real collection commits once per region and minute.
# Back to back, on a SQLite catalog, two collectors commit so often that a rollup's longer
# transaction keeps losing its commit (SQLite refuses to upgrade a stale read to a write); the
# PostgreSQL catalog of a many-worker deployment resolves such conflicts itself.
COLLECTOR_PAUSE = 1.0


def _start(role: str, *args: object, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.warehouse.workload", role, *map(str, args)],
        cwd=PROJECT_DIR,
        env=env,
        stderr=subprocess.PIPE,
    )


def _finish(process: subprocess.Popen[bytes], timeout: float = 300) -> None:
    _, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr.decode()[-3000:]


@pytest.fixture
def process_env(settings: Settings) -> dict[str, str]:
    """The environment the workload processes inherit (the test's data dir and settings)."""
    return {**os.environ, "PYTHONPATH": str(PROJECT_DIR)}


@pytest.fixture(params=["sqlite", "postgres"])
def catalog_env(
    request: pytest.FixtureRequest, process_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The embedded SQLite catalog, or a PostgreSQL one (where compaction also merges files)."""
    if request.param == "postgres":
        pg_url = request.getfixturevalue("pg_url")
        monkeypatch.setenv("OAKTREE_WAREHOUSE_CATALOG", pg_url)
        return {**process_env, "OAKTREE_WAREHOUSE_CATALOG": pg_url}
    return process_env


def test_a_reader_in_another_process_never_fails_while_every_writer_runs(
    catalog_env: dict[str, str], tmp_path: Path
) -> None:
    settings = load_settings()
    process_env = catalog_env
    # Old points for retention to delete while the reader reads.
    write_points(settings, points([1.0] * 30, start=RECENT - timedelta(days=30)))
    stop, reader_result, maintainer_result = (
        tmp_path / "stop",
        tmp_path / "reader.json",
        tmp_path / "maint.json",
    )
    reader = _start("read", stop, reader_result, 500, env=process_env)
    maintainer = _start("maintain", stop, maintainer_result, env=process_env)
    collectors = [
        _start("collect", region, MINUTES, 0, COLLECTOR_PAUSE, env=process_env) for region in REGIONS
    ]
    try:
        for collector in collectors:
            _finish(collector)
    finally:
        stop.write_text("stop")
    _finish(maintainer)
    _finish(reader)

    result = json.loads(reader_result.read_text())
    assert result["errors"] == []
    samples = [tuple(sample) for sample in result["samples"]]
    assert len(samples) >= 500
    assert json.loads(maintainer_result.read_text())["passes"] >= 1
    # Recent points and their buckets only ever grow (each commit is seen whole); the old ones go.
    # Samples are (recent points, their 5-minute counts, old points, snapshot id).
    backwards = [
        (earlier, later) for earlier, later in itertools.pairwise(samples) if later[:2] < earlier[:2]
    ]
    if backwards:
        with connect(settings=settings) as connection:
            for _, later in backwards:
                print(
                    "SNAP",
                    later,
                    connection.execute(
                        "SELECT snapshot_id, changes FROM lake.snapshots() WHERE snapshot_id BETWEEN ? AND ?",
                        [later[3] - 2, later[3] + 1],
                    ).fetchall(),
                )
    assert backwards == []
    expected = len(REGIONS) * SERIES * MINUTES
    with connect(settings=settings) as connection:
        assert connection.execute(
            "SELECT count(*), count(DISTINCT (resource_id, region, ts)) FROM metrics"
        ).fetchall() == [(expected, expected)]
        recent_buckets = connection.execute("SELECT sum(count) FROM metrics_5m WHERE bucket >= ?", [RECENT])
        assert recent_buckets.fetchall() == [(expected,)]
    assert samples[-1][2] == 0  # retention removed the 30-day-old points


@pytest.fixture
def production_lake(
    pg_url: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """A lake with its catalog in PostgreSQL and its files on S3 (the moto server); return its env."""
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(
        Bucket="oaktree-lake"
    )
    env = {
        "OAKTREE_WAREHOUSE_CATALOG": pg_url,
        "OAKTREE_WAREHOUSE_DATA_PATH": "s3://oaktree-lake/warehouse/",
        "AWS_ENDPOINT_URL": moto_endpoint,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield env


def test_two_writer_processes_on_overlapping_windows_store_every_point_once_on_postgres_and_s3(
    production_lake: dict[str, str], process_env: dict[str, str], moto_endpoint: str
) -> None:
    settings = load_settings()
    open_for_writing(settings).close()
    env = {**process_env, **production_lake}
    # Both write the same region and minutes, with different values: every batch conflicts.
    writers = [_start("collect", "us-east-1", 25, base, 0, env=env) for base in (0, 500_000)]
    for writer in writers:
        _finish(writer)

    with connect(settings=settings) as connection:
        counts = connection.execute(
            "SELECT count(*), count(DISTINCT (resource_id, ts)), min(ts), max(ts) FROM metrics"
        ).fetchall()[0]
        data_files = connection.execute(
            "SELECT count(*) FROM ducklake_list_files('lake', 'metrics') WHERE data_file LIKE 's3://oaktree-lake/%'"
        ).fetchall()[0][0]
    assert counts[:2] == (SERIES * 25, SERIES * 25)
    assert (counts[2], counts[3]) == (RECENT, RECENT + timedelta(minutes=24))
    assert data_files >= 1
    listed = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").list_objects_v2(
        Bucket="oaktree-lake", Prefix="warehouse/"
    )
    assert listed["KeyCount"] >= 1
