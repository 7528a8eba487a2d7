"""Where the lake lives, its extensions, and its tables defined once from the code's own types."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from oaktree.config import Settings, load_settings
from oaktree.discovery.store import load_inventory
from oaktree.events import Event
from oaktree.inventory import Resource
from oaktree.warehouse import WarehouseError, WarehouseNotFound, lake, schema
from oaktree.warehouse.lake import lake_location, open_for_writing


def test_the_default_lake_is_a_sqlite_catalog_and_files_in_the_data_dir(settings: Settings) -> None:
    location = lake_location(settings)

    data_dir = settings.data_dir.resolve()
    assert location.catalog == f"sqlite:{data_dir / 'warehouse.sqlite'}"
    assert location.data_path == f"{data_dir / 'warehouse'}/"
    assert not location.on_s3


def test_production_lake_names_postgres_and_s3_and_never_shows_the_password() -> None:
    settings = load_settings(
        warehouse_catalog="postgresql://oaktree:s3cret@db.internal:5432/oaktree?sslmode=require",
        warehouse_data_path="s3://oaktree-warehouse/lake",
    )

    location = lake_location(settings)

    assert location.catalog == (
        "postgres:dbname=oaktree host=db.internal port=5432 user=oaktree password=s3cret sslmode=require"
    )
    assert location.metadata_schema == "ducklake"
    assert location.data_path == "s3://oaktree-warehouse/lake/"
    assert location.on_s3
    assert "s3cret" not in location.shown
    assert "METADATA_SCHEMA 'ducklake'" in location.attach_sql(read_only=True)


@pytest.mark.parametrize(
    ("catalog", "message"),
    [
        ("mysql://db/x", "must be a postgresql:// or sqlite:/// URL"),
        ("postgresql://host", "names no database"),
    ],
)
def test_an_unusable_catalog_setting_is_one_clear_error(catalog: str, message: str) -> None:
    with pytest.raises(WarehouseError, match=message):
        lake_location(load_settings(warehouse_catalog=catalog))


def test_extensions_load_from_their_packages_and_nothing_is_downloaded(tmp_path: Path) -> None:
    # A fresh HOME with no ~/.duckdb: had anything been installed or fetched, it would land there.
    script = (
        "from oaktree.config import load_settings\n"
        "from oaktree.warehouse.lake import open_for_writing\n"
        "con = open_for_writing(load_settings())\n"
        'rows = con.execute("SELECT extension_name, install_path FROM duckdb_extensions() WHERE loaded '
        "AND extension_name IN ('ducklake', 'sqlite_scanner')\").fetchall()\n"
        "print(sorted(rows))\n"
    )
    env = {**os.environ, "HOME": str(tmp_path / "home"), "OAKTREE_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )

    assert result.returncode == 0, result.stderr
    # Loaded from the package file: no install path.
    assert result.stdout.strip().splitlines()[-1] == "[('ducklake', ''), ('sqlite_scanner', '')]"
    assert not (tmp_path / "home" / ".duckdb").exists()


def test_autoloading_is_off_so_a_missing_extension_fails_instead_of_downloading(settings: Settings) -> None:
    connection = open_for_writing(settings)
    with pytest.raises(duckdb.Error, match=r"(?i)spatial"):
        connection.execute("SELECT ST_Point(1, 2)")
    connection.close()


def test_every_table_is_created_with_documented_columns_in_a_fresh_lake(settings: Settings) -> None:
    connection = open_for_writing(settings)

    for table in schema.TABLES:
        columns = connection.execute(
            "SELECT column_name, comment FROM duckdb_columns() "
            "WHERE database_name = 'lake' AND table_name = ? ORDER BY column_index",
            [table.name],
        ).fetchall()
        assert [name for name, _ in columns] == table.column_names
        assert all(comment for _, comment in columns), table.name
    assert lake.missing_tables(connection) == []
    connection.close()


def test_table_columns_follow_the_code_types() -> None:
    resource_fields = [field.name for field in dataclasses.fields(Resource)]
    assert schema.RESOURCES.column_names == resource_fields
    assert schema.RESOURCES.column("tags").sql_type == "MAP(VARCHAR, VARCHAR)"
    assert schema.RESOURCES.column("desired_count").sql_type == "BIGINT"
    event_columns = [
        {"timestamp": "ts", "event_id": "event_key"}.get(f.name, f.name) for f in dataclasses.fields(Event)
    ]
    assert schema.EVENTS.column_names == event_columns
    assert schema.EVENTS.column("details").sql_type == "JSON"
    assert "SampleCount" not in schema.STATISTICS or "SampleCount" in schema.MEANINGFUL_COLUMN
    assert set(schema.STATISTICS) <= set(schema.MEANINGFUL_COLUMN)


def test_a_field_added_to_a_model_becomes_a_column_and_an_existing_lake_gains_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_for_writing(settings).close()

    @dataclasses.dataclass(frozen=True)
    class Widened:
        resource_id: str
        owner: str | None = None
        retired_at: datetime | None = None

    columns = schema.columns_of(
        Widened,
        {"resource_id": "id", "owner": "who owns it", "retired_at": "when"},
        required=("resource_id",),
    )
    widened = dataclasses.replace(schema.RESOURCES, columns=(*schema.RESOURCES.columns, *columns[1:]))
    monkeypatch.setattr(lake, "TABLES", (widened, *schema.TABLES[1:]))
    monkeypatch.setattr(lake, "_ensured", set())

    connection = open_for_writing(settings)

    types = dict(
        connection.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = 'lake' "
            "AND table_name = 'resources'"
        ).fetchall()
    )
    assert (types["owner"], types["retired_at"]) == ("VARCHAR", "TIMESTAMP WITH TIME ZONE")
    connection.close()


def test_a_column_without_documentation_is_refused_at_definition() -> None:
    @dataclasses.dataclass
    class Undocumented:
        resource_id: str

    with pytest.raises(KeyError, match="resource_id"):
        schema.columns_of(Undocumented, {})


@pytest.mark.postgres
def test_a_postgres_catalog_nothing_wrote_yet_is_not_found_rather_than_broken(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OAKTREE_WAREHOUSE_CATALOG", pg_url)
    settings = load_settings()
    with pytest.raises(WarehouseNotFound, match="no warehouse at postgres:"):
        lake.connect(read_only=True, settings=settings)
    # Discovery's first run on a fresh production lake starts from an empty inventory.
    assert load_inventory(settings) == []
