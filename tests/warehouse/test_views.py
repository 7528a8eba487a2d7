"""The analyst-facing DuckDB file: six documented views, empty-safe, rebuilt only when outdated."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from oaktree.config import Settings
from oaktree.discovery.store import EVENT_SCHEMA, save_inventory
from oaktree.inventory import Resource, ResourceType
from oaktree.warehouse import files, layout
from oaktree.warehouse.points import write_points
from oaktree.warehouse.views import build_warehouse, ensure_warehouse
from tests.warehouse.builders import T0, points

SERIES = ["resource_id", "resource_type", "region", "metric_name", "statistic", "unit"]
DOCUMENTED = {
    "metrics": [*SERIES, "ts", "value"],
    **{
        view: [*SERIES, "bucket", "avg", "min", "max", "sum", "count", "p95"]
        for view in ("metrics_5m", "metrics_1h", "metrics_1d")
    },
    "events": [
        "resource_id",
        "event_key",
        "ts",
        "event_type",
        "severity",
        "message",
        "region",
        "resource_type",
        "details",
    ],
}

# What a notebook does, in its own process: only `duckdb`, the documented path, read_only=True.
NOTEBOOK = """
import json, sys, duckdb
connection = duckdb.connect(sys.argv[1], read_only=True)
views = {
    name: {
        "columns": [[row[0], row[1]] for row in connection.execute(f"DESCRIBE {name}").fetchall()],
        "rows": connection.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0],
    }
    for (name,) in connection.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY view_name"
    ).fetchall()
}
print(json.dumps(views))
"""


def _notebook(settings: Settings) -> dict:
    output = subprocess.run(
        [sys.executable, "-c", NOTEBOOK, str(settings.warehouse_path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(output.stdout)


def test_every_view_works_on_an_empty_warehouse_with_documented_columns(settings: Settings) -> None:
    ensure_warehouse(settings)

    views = _notebook(settings)

    assert sorted(views) == ["events", "metrics", "metrics_1d", "metrics_1h", "metrics_5m", "resources"]
    assert all(view["rows"] == 0 for view in views.values())
    for name, columns in DOCUMENTED.items():
        assert [column for column, _ in views[name]["columns"]] == columns
    types = {name: dict(view["columns"]) for name, view in views.items()}
    assert types["metrics"]["ts"] == "TIMESTAMP WITH TIME ZONE"
    assert types["metrics"]["value"] == "DOUBLE"
    assert types["metrics_5m"]["bucket"] == "TIMESTAMP WITH TIME ZONE"
    assert types["metrics_5m"]["count"] == "BIGINT"
    assert types["events"]["ts"] == "TIMESTAMP WITH TIME ZONE"
    assert types["resources"]["tags"] == "MAP(VARCHAR, VARCHAR)"
    assert types["resources"]["resource_id"] == "VARCHAR"


def test_views_show_discovery_and_collection_data(settings: Settings) -> None:
    ensure_warehouse(settings)
    save_inventory(
        settings,
        [
            Resource(
                resource_id="i-0001",
                arn="arn:aws:ec2:us-east-1:1:instance/i-0001",
                resource_type=ResourceType.EC2_INSTANCE,
                region="us-east-1",
                name="web",
                state="running",
                tags={"team": "payments"},
            )
        ],
    )
    event = {
        "resource_id": "i-0001",
        "event_key": "0000000000001#a",
        "ts": T0,
        "event_type": "resource_discovered",
        "severity": "info",
        "message": "found",
        "region": "us-east-1",
        "resource_type": "ec2_instance",
        "details": '{"state": "running"}',
    }
    files.replace_parquet(
        pa.Table.from_pylist([event], schema=EVENT_SCHEMA),
        layout.events_dir(settings.warehouse_dir) / "date=2024-03-10" / "run.parquet",
    )
    write_points(settings.warehouse_dir, points([1.5, 2.5]))

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        assert connection.execute("SELECT tags['team'] FROM resources").fetchall() == [("payments",)]
        assert connection.execute(
            "SELECT ts, json_extract_string(details, '$.state') FROM events"
        ).fetchall() == [(T0, "running")]
        assert connection.execute("SELECT min(ts), sum(value) FROM metrics").fetchall() == [(T0, 4.0)]


def test_the_file_is_rewritten_only_when_the_definitions_change(settings: Settings) -> None:
    assert build_warehouse(warehouse_dir=settings.warehouse_dir, database_path=settings.warehouse_path)
    first = settings.warehouse_path.stat().st_ino

    assert not build_warehouse(warehouse_dir=settings.warehouse_dir, database_path=settings.warehouse_path)
    assert settings.warehouse_path.stat().st_ino == first

    settings.warehouse_path.write_bytes(b"not a duckdb file")  # damaged: rebuilt
    assert build_warehouse(warehouse_dir=settings.warehouse_dir, database_path=settings.warehouse_path)
    assert _notebook(settings)["metrics"]["rows"] == 0


def test_an_open_reader_keeps_working_while_the_file_is_rebuilt(settings: Settings) -> None:
    ensure_warehouse(settings)
    write_points(settings.warehouse_dir, points([1, 2, 3]))
    reader = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        settings.warehouse_path.unlink()  # forces a rebuild into a new file, renamed over the path
        ensure_warehouse(settings)
        assert reader.execute("SELECT count(*) FROM metrics").fetchall() == [(3,)]
    finally:
        reader.close()
    assert _notebook(settings)["metrics"]["rows"] == 3


def test_the_file_records_how_it_was_built(settings: Settings) -> None:
    ensure_warehouse(settings)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        info = dict(connection.execute("SELECT key, value FROM warehouse_info").fetchall())
    assert info["base_uri"] == settings.warehouse_dir.resolve().as_posix()
    assert datetime.fromisoformat(info["built_at"]).tzinfo == UTC
    assert len(info["definition_sha256"]) == 64
