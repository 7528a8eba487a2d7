"""Processes the concurrency tests start: a collector, a maintainer, a notebook-like reader.

Run as `python -m tests.warehouse.workload <role> ...` from the project root, with the lake
configured by the environment (OAKTREE_DATA_DIR, or OAKTREE_WAREHOUSE_CATALOG and _DATA_PATH).
Each role writes a JSON result file the test reads.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from oaktree.config import load_settings
from oaktree.warehouse import connect
from oaktree.warehouse.maintenance import apply_configured_retention, compact_configured
from oaktree.warehouse.points import write_points
from oaktree.warehouse.rollups import rollup_warehouse
from tests.warehouse.builders import points

SERIES = 20
# Recent enough to be inside every retention, old enough to be settled.
# The test and every process it starts must agree on it even across an hour boundary: the test
# process fixes it and hands it down in the environment.
RECENT = datetime.fromisoformat(
    os.environ.setdefault(
        "WAREHOUSE_TEST_RECENT",
        (datetime.now(UTC) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0).isoformat(),
    )
)


def collect(
    region: str, minutes: int, *, start: datetime = RECENT, value_base: float = 0.0, pause: float = 0.0
) -> None:
    """Write one batch per minute like the collector: each re-reads the two minutes before (settling).

    `pause` seconds between batches: collection commits once per region and minute, so a
    collector that commits back to back is far more than any real one (see the test).
    """
    settings = load_settings()
    for now in range(minutes):
        first = max(0, now - 2)
        batch = pa.concat_tables(
            points(
                [value_base + now * 1000 + series + m for m in range(first, now + 1)],
                start=start + timedelta(minutes=first),
                resource_id=f"i-{region}-{series:03d}",  # instance ids are unique across regions
                region=region,
            )
            for series in range(SERIES)
        )
        write_points(settings, batch)
        time.sleep(pause)


def maintain(stop_file: Path, result_file: Path) -> None:
    """Roll up, apply retention and compact, over and over, until told to stop; then roll up once more."""
    settings = load_settings()
    passes = 0
    while not stop_file.exists():
        rollup_warehouse(settings)
        apply_configured_retention(settings)
        compact_configured(settings)
        passes += 1
    rollup_warehouse(settings)
    result_file.write_text(json.dumps({"passes": passes}))


def read(stop_file: Path, result_file: Path, minimum_queries: int) -> None:
    """Query like a notebook on one long-lived read-only connection; record every error.

    A sample is (recent points, their 5-minute counts, old points, snapshot id) in one statement.
    """
    connection = connect()
    samples, errors = [], []
    while not stop_file.exists() or len(samples) + len(errors) < minimum_queries:
        try:
            samples.append(
                connection.execute(
                    "SELECT (SELECT count(*) FROM metrics WHERE ts >= $recent), "
                    "(SELECT coalesce(sum(count), 0) FROM metrics_5m WHERE bucket >= $recent), "
                    "(SELECT count(*) FROM metrics WHERE ts < $recent), "
                    "(SELECT id FROM lake.current_snapshot())",
                    {"recent": RECENT},
                ).fetchall()[0]
            )
        except duckdb.Error as exc:
            errors.append(str(exc).splitlines()[0])
        time.sleep(0.005)
    result_file.write_text(json.dumps({"samples": samples, "errors": errors}))


def main(role: str, *args: str) -> None:
    if role == "collect":
        collect(args[0], int(args[1]), value_base=float(args[2]), pause=float(args[3]))
    elif role == "maintain":
        maintain(Path(args[0]), Path(args[1]))
    elif role == "read":
        read(Path(args[0]), Path(args[1]), int(args[2]))
    else:
        raise SystemExit(f"unknown role {role}")


if __name__ == "__main__":
    main(*sys.argv[1:])
