"""The notebook contract under load: a read-only reader in another process never fails, never goes back.

DuckDB reopens files by path during a scan, so this is what forbids replacing a file in place:
with in-place replacement this test fails with "TProtocolException: Invalid data".
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pyarrow as pa

from oaktree.config import Settings
from oaktree.warehouse.points import write_points
from oaktree.warehouse.rollups import rollup
from oaktree.warehouse.views import ensure_warehouse
from tests.warehouse.builders import T0, points

READER = """
import json, sys, time
from pathlib import Path
import duckdb

database, stop_file, result_file = sys.argv[1:4]
samples, errors, durations = [], [], []
connection = duckdb.connect(database, read_only=True)
while not Path(stop_file).exists() or len(samples) < 3:
    started = time.monotonic()
    try:
        samples.append(
            connection.execute(
                "SELECT (SELECT count(*) FROM metrics), (SELECT coalesce(sum(count), 0) FROM metrics_5m)"
            ).fetchall()[0]
        )
    except duckdb.Error as exc:
        errors.append(str(exc).splitlines()[0])
    durations.append(time.monotonic() - started)
result = {"samples": samples, "errors": errors, "max_seconds": max(durations)}
Path(result_file).write_text(json.dumps(result))
"""

SERIES, MINUTES, REGIONS = 20, 40, ("us-east-1", "eu-west-1")


def _collect_region(warehouse_dir: Path, region: str) -> None:
    """Write one batch per minute like the collector, re-reading the last two minutes (settling)."""
    for now in range(MINUTES):
        first = max(0, now - 2)
        batch = pa.concat_tables(
            points(
                [now * 1000 + series + m for m in range(first, now + 1)],
                start=T0 + timedelta(minutes=first),
                resource_id=f"i-{series:03d}",
                region=region,
            )
            for series in range(SERIES)
        )
        write_points(warehouse_dir, batch)


def test_reader_sees_no_errors_and_counts_never_decrease(settings: Settings, tmp_path: Path) -> None:
    database = ensure_warehouse(settings)
    stop_file, result_file = tmp_path / "stop", tmp_path / "result.json"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(database), str(stop_file), str(result_file)])
    try:
        writers = [
            threading.Thread(target=_collect_region, args=(settings.warehouse_dir, region))
            for region in REGIONS
        ]
        for writer in writers:
            writer.start()
        while any(writer.is_alive() for writer in writers):
            rollup(settings.warehouse_dir)
            time.sleep(0.05)
        for writer in writers:
            writer.join()
        rollup(settings.warehouse_dir)
    finally:
        stop_file.write_text("stop")
        assert reader.wait(timeout=60) == 0

    result = json.loads(result_file.read_text())
    assert result["errors"] == [], result["max_seconds"]
    samples = [tuple(sample) for sample in result["samples"]]
    assert len(samples) >= 20
    assert all(later >= earlier for earlier, later in itertools.pairwise(samples))
    expected_points = len(REGIONS) * SERIES * MINUTES
    assert samples[-1] == (expected_points, expected_points)
    # Superseded versions are still there (inside their grace period) and the views ignored them.
    minute_versions = (settings.warehouse_dir / "metrics" / "resolution=1m").rglob("v*.parquet")
    assert len(list(minute_versions)) > len(REGIONS)
