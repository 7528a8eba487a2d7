"""The analyst-facing DuckDB file: documented views over the warehouse's Parquet files.

`$OAKTREE_DATA_DIR/warehouse.duckdb` holds only views (and a small `warehouse_info` table); the
data stays in Parquet. A notebook opens it with `duckdb.connect(path, read_only=True)` while
the flows write, because no flow ever opens this file: writers replace Parquet files
atomically, and `ensure_warehouse` rebuilds the file in a temporary file that replaces it in one
rename, only when the view definitions change. A reader already connected keeps the previous
file (and its views) until it reconnects.

Views (every `ts`/`bucket` is TIMESTAMPTZ in UTC):

- `resources`: the latest inventory, one row per resource (tags as MAP(VARCHAR, VARCHAR)).
- `events`: inventory change events (resource_id, event_key, ts, event_type, severity, message,
  region, resource_type, details as JSON text).
- `metrics`: 1-minute points (resource_id, resource_type, region, metric_name, statistic, unit,
  ts, value); one row per (resource_id, metric_name, statistic, ts).
- `metrics_5m`, `metrics_1h`, `metrics_1d`: buckets (resource_id, resource_type, region,
  metric_name, statistic, unit, bucket, avg, min, max, sum, count, p95); see
  `oaktree.warehouse.rollups` for what each column means per statistic.

The metrics views read every version file of their partitions and keep, per key, the row of
the newest version (`arg_max(..., filename)`: version names sort in time order). Usually a
partition has one version; a superseded one lingers for a grace period (see
`oaktree.warehouse.files`) and is ignored here. Filters on the descriptive columns (resource_id,
region, metric_name, statistic, ts/bucket, ...) are pushed below that de-duplication, so a query
for one series reads only what it needs.

Each view reads a glob that always matches the dataset's zero-row `_empty.parquet`, so every
view works on an empty warehouse. Paths are absolute (DuckDB resolves relative paths against
the reader's working directory); `view_definitions` takes the base URI, so the same views can
point at an S3 prefix later.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from oaktree.config import Settings
from oaktree.discovery.store import EVENT_SCHEMA, INVENTORY_SCHEMA
from oaktree.logs import get_logger
from oaktree.points import POINT_SCHEMA
from oaktree.warehouse import layout
from oaktree.warehouse.files import locked, replace_parquet
from oaktree.warehouse.layout import Resolution
from oaktree.warehouse.rollups import ROLLUP_SCHEMA

log = get_logger(__name__)

# Bumped when the view layer changes in a way the definitions' text would not show.
LAYOUT_VERSION = "1"

_SERIES_COLUMNS = {
    "resource_id": "Resource id: EC2 instance id, or the ARN for ECS services and DynamoDB tables.",
    "resource_type": "ec2_instance, ecs_service or dynamodb_table.",
    "region": "AWS region of the resource.",
    "metric_name": "CloudWatch metric name; DynamoDB per-operation metrics as Metric:Operation.",
    "statistic": "CloudWatch statistic of the 1-minute values: Average, Maximum, Minimum, Sum, SampleCount.",
    "unit": "CloudWatch unit, e.g. Percent, Bytes, Count, Milliseconds.",
}
_BUCKET_COLUMNS = {
    **_SERIES_COLUMNS,
    "bucket": "Start of the bucket, TIMESTAMPTZ in UTC.",
    "avg": "Mean of the bucket's 1-minute values (the bucket value for Average).",
    "min": "Smallest 1-minute value (the bucket value for Minimum).",
    "max": "Largest 1-minute value (the bucket value for Maximum).",
    "sum": "Sum of the 1-minute values (the bucket value for Sum and SampleCount).",
    "count": "Number of 1-minute points in the bucket.",
    "p95": "95th percentile of the 1-minute values; NULL for Sum and SampleCount.",
}


_RESOURCE_COLUMNS = {
    "resource_id": "Unique id: the instance id, or the ARN for ECS and DynamoDB.",
    "tags": "Resource tags as MAP(VARCHAR, VARCHAR): tags['team'].",
    "first_seen": "When discovery first saw the resource (TIMESTAMPTZ, UTC).",
    "last_seen": "When discovery last saw the resource (TIMESTAMPTZ, UTC).",
}
_EVENT_COLUMNS = {
    "event_key": "Unique key: epoch milliseconds and a random id.",
    "ts": "When the change was detected (TIMESTAMPTZ, UTC).",
    "event_type": "resource_discovered, state_changed, capacity_changed or resource_gone.",
    "details": "JSON text; read fields with json_extract(details, '$.field').",
}


class _View:
    """One view: its dataset folder, its glob below it, the columns it shows and their docs.

    `versioned_values` names the value columns of a versioned dataset: rows are grouped by every
    other column, and each group takes the values of its newest version file.
    """

    def __init__(
        self,
        name: str,
        comment: str,
        dataset: str,
        glob: str,
        schema: pa.Schema,
        column_docs: dict[str, str],
        versioned_values: tuple[str, ...] = (),
        newest_file_only: bool = False,
    ) -> None:
        self.name = name
        self.comment = comment
        self.dataset = dataset  # folder below the warehouse dir, holding `_empty.parquet`
        self.glob = glob
        self.schema = schema
        self.column_docs = column_docs
        self.versioned_values = versioned_values
        self.newest_file_only = newest_file_only

    def select(self, base_uri: str) -> str:
        location = _sql_string(f"{base_uri.rstrip('/')}/{self.dataset}/{self.glob}")
        # union_by_name: files written before a column was added read it as NULL.
        source = f"read_parquet({location}, union_by_name = true, hive_partitioning = false, filename = true)"
        if self.newest_file_only:
            # Snapshots: only the rows of the newest file (version names sort in time order).
            return (
                f"SELECT {_columns(self.schema.names)} FROM {source} QUALIFY filename = max(filename) OVER ()"
            )
        if not self.versioned_values:
            return f"SELECT {_columns(self.schema.names)} FROM {source}"
        groups = [name for name in self.schema.names if name not in self.versioned_values]
        newest = ", ".join(f"'{name}': \"{name}\"" for name in self.versioned_values)
        outputs = [
            f'"{name}"' if name in groups else f'newest."{name}" AS "{name}"' for name in self.schema.names
        ]
        return (
            f"SELECT {', '.join(outputs)} FROM ("
            f"SELECT {_columns(groups)}, arg_max({{{newest}}}, filename) AS newest "
            f"FROM {source} GROUP BY {_columns(groups)})"
        )


def _columns(names: list[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _metrics_dataset(resolution: Resolution) -> str:
    return f"{layout.METRICS}/resolution={resolution.value}"


VIEWS: tuple[_View, ...] = (
    _View(
        "resources",
        "Latest inventory from discovery: one row per resource, tagged or not.",
        layout.RESOURCES,
        "*.parquet",
        INVENTORY_SCHEMA,
        _RESOURCE_COLUMNS,
        newest_file_only=True,
    ),
    _View(
        "events",
        "Inventory change events from discovery.",
        layout.EVENTS,
        "**/*.parquet",
        EVENT_SCHEMA,
        _EVENT_COLUMNS,
    ),
    _View(
        Resolution.MINUTE.view,
        "1-minute CloudWatch points, one row per (resource_id, metric_name, statistic, ts).",
        _metrics_dataset(Resolution.MINUTE),
        "**/*.parquet",
        POINT_SCHEMA,
        {**_SERIES_COLUMNS, "ts": "Minute of the point, TIMESTAMPTZ in UTC.", "value": "The 1-minute value."},
        versioned_values=("value",),
    ),
    *(
        _View(
            resolution.view,
            f"{resolution.value} buckets of the 1-minute points, one row per (resource_id, metric_name, "
            "statistic, bucket).",
            _metrics_dataset(resolution),
            "**/*.parquet",
            ROLLUP_SCHEMA,
            _BUCKET_COLUMNS,
            versioned_values=("avg", "min", "max", "sum", "count", "p95"),
        )
        for resolution in layout.ROLLUP_RESOLUTIONS
    ),
)


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def view_definitions(base_uri: str) -> str:
    """Return the SQL script creating every view (and its documentation) over `base_uri`."""
    statements = []
    for view in VIEWS:
        statements.append(f"CREATE OR REPLACE VIEW {view.name} AS {view.select(base_uri)};")
        statements.append(f"COMMENT ON VIEW {view.name} IS {_sql_string(view.comment)};")
        statements.extend(
            f"COMMENT ON COLUMN {view.name}.{column} IS {_sql_string(doc)};"
            for column, doc in view.column_docs.items()
        )
    return "\n".join(statements)


def seed_empty_files(warehouse_dir: Path) -> int:
    """Give every dataset its zero-row `_empty.parquet` in the current schema; return files written."""
    written = 0
    for view in VIEWS:
        path = warehouse_dir / view.dataset / layout.EMPTY_FILE
        if path.exists() and pq.read_schema(path).equals(view.schema, check_metadata=False):
            continue
        replace_parquet(view.schema.empty_table(), path)
        written += 1
    return written


def _stored_definition_hash(database_path: Path) -> str | None:
    """Return the definition hash recorded in the DuckDB file, or None if absent or unreadable."""
    if not database_path.exists():
        return None
    # ATTACH in a private in-memory database: `duckdb.connect(path)` would reuse (and pin) a
    # cached instance of the file in this process.
    with duckdb.connect() as connection:
        try:
            connection.execute(f"ATTACH {_sql_string(str(database_path))} AS current_file (READ_ONLY)")
            rows = connection.execute(
                "SELECT value FROM current_file.warehouse_info WHERE key = 'definition_sha256'"
            ).fetchall()
        except duckdb.Error as exc:  # not a DuckDB file, or an older file without warehouse_info
            log.warning("warehouse_file_unreadable", path=str(database_path), error=str(exc).splitlines()[0])
            return None
    return rows[0][0] if rows else None


def _write_database(database_path: Path, script: str, info: dict[str, str]) -> None:
    """Build the DuckDB file beside its final path, then move it into place in one rename."""
    tmp = database_path.with_name(f".{database_path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with duckdb.connect(str(tmp)) as connection:
            connection.execute(script)
            connection.execute("CREATE TABLE warehouse_info (key VARCHAR PRIMARY KEY, value VARCHAR)")
            connection.executemany("INSERT INTO warehouse_info VALUES (?, ?)", sorted(info.items()))
            connection.execute("COMMENT ON TABLE warehouse_info IS 'How and when OakTree built this file.'")
            connection.execute("CHECKPOINT")
        os.replace(tmp, database_path)
    finally:
        tmp.unlink(missing_ok=True)
        with contextlib.suppress(FileNotFoundError):
            Path(f"{tmp}.wal").unlink()


def build_warehouse(*, warehouse_dir: Path, database_path: Path) -> bool:
    """Seed empty datasets and rewrite the DuckDB file if its views are outdated; True if rewritten."""
    warehouse_dir = warehouse_dir.resolve()
    database_path = database_path.resolve()
    with locked(layout.lock_dir(warehouse_dir) / "warehouse-file.lock"):
        seed_empty_files(warehouse_dir)
        script = view_definitions(warehouse_dir.as_posix())
        definition_hash = hashlib.sha256(f"{LAYOUT_VERSION}\n{script}".encode()).hexdigest()
        if _stored_definition_hash(database_path) == definition_hash:
            return False
        database_path.parent.mkdir(parents=True, exist_ok=True)
        _write_database(
            database_path,
            script,
            {
                "definition_sha256": definition_hash,
                "base_uri": warehouse_dir.as_posix(),
                "layout_version": LAYOUT_VERSION,
                "built_at": datetime.now(UTC).isoformat(),
                "duckdb_version": duckdb.__version__,
            },
        )
    log.info("warehouse_file_written", path=str(database_path), views=[view.name for view in VIEWS])
    return True


def ensure_warehouse(settings: Settings) -> Path:
    """Make the warehouse ready to read and write (idempotent); return the DuckDB file's path."""
    build_warehouse(warehouse_dir=settings.warehouse_dir, database_path=settings.warehouse_path)
    return settings.warehouse_path.resolve()
