"""The DuckLake warehouse: where it lives, how a DuckDB connection attaches it, and its tables.

DuckLake keeps the catalog (tables, snapshots, which Parquet files hold which rows) in a
database and the data in Parquet files. Embedded default: a SQLite catalog file in the data dir
(SQLite, unlike a DuckDB-file catalog, lets other processes read while the flows write) and the
files under `<data dir>/warehouse/`. Production: the catalog in PostgreSQL and the files on S3.
Snapshot isolation means a reader sees a whole commit or none of it, and a file is deleted only
after the snapshots using it expired and a grace period passed, so no query loses a file.

Extensions come from the `duckdb-extension-*` packages installed beside duckdb and are loaded
from their files: nothing is downloaded at run time (air-gapped deployments work the same).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import random
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from oaktree import aws
from oaktree.config import Settings
from oaktree.logs import get_logger
from oaktree.warehouse.errors import WarehouseError, WarehouseNotFound
from oaktree.warehouse.schema import (
    INTERNAL_SCHEMA,
    TABLES,
    VERSION_COLUMNS,
    Table,
    sql_string,
    version_table,
)

log = get_logger(__name__)

# The name every connection gives the lake; `USE lake` makes `SELECT * FROM metrics` work.
LAKE = "lake"

# Extension name -> the PyPI package that ships its build for this duckdb version.
_EXTENSION_PACKAGES = {
    "ducklake": "duckdb_extension_ducklake",
    "sqlite_scanner": "duckdb_extension_sqlite_scanner",
    "postgres_scanner": "duckdb_extension_postgres_scanner",
    "httpfs": "duckdb_extension_httpfs",
}
# SQLite waits this long for a writer's lock instead of failing at once; WAL lets readers read
# while one process writes.
_SQLITE_BUSY_TIMEOUT_MS = 10_000


@dataclasses.dataclass(frozen=True, slots=True)
class LakeLocation:
    """Where one lake's catalog and data files live.

    `catalog` is what follows `ducklake:` in ATTACH (`sqlite:<file>` or `postgres:<libpq string>`);
    `shown` is the same without secrets, for messages and logs.
    """

    catalog: str
    data_path: str
    shown: str
    metadata_schema: str | None = None
    sqlite_file: Path | None = None

    @property
    def on_s3(self) -> bool:
        return self.data_path.startswith("s3://")

    def attach_sql(self, *, read_only: bool) -> str:
        """Return the ATTACH statement for this lake (creating it if missing, unless read-only)."""
        options = [f"DATA_PATH {sql_string(self.data_path)}"]
        if self.metadata_schema:
            options.append(f"METADATA_SCHEMA {sql_string(self.metadata_schema)}")
        if self.sqlite_file is not None:
            options.append("META_JOURNAL_MODE 'WAL'")
            options.append(f"META_BUSY_TIMEOUT {_SQLITE_BUSY_TIMEOUT_MS}")
        if read_only:
            options.append("READ_ONLY")
        else:
            # Every insert goes to Parquet, none into the catalog: flushing inlined rows while
            # another writer updates them loses rows (seen with DuckLake 1.5.5 under load), and
            # compaction merges the small files anyway.
            options.append("DATA_INLINING_ROW_LIMIT 0")
        return f"ATTACH {sql_string('ducklake:' + self.catalog)} AS {LAKE} ({', '.join(options)})"

    def exists(self) -> bool:
        """Return False only when the catalog certainly has not been created (a missing SQLite file)."""
        return self.sqlite_file is None or self.sqlite_file.exists()


def _libpq_string(url: str) -> tuple[str, str]:
    """Return a PostgreSQL URL as a libpq keyword string, and the same without the password."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise WarehouseError("OAKTREE_WAREHOUSE_CATALOG: cannot parse the PostgreSQL URL") from None
    if not parsed.database:
        raise WarehouseError("OAKTREE_WAREHOUSE_CATALOG: the PostgreSQL URL names no database")
    pairs = {
        "dbname": parsed.database,
        "host": parsed.host,
        "port": parsed.port,
        "user": parsed.username,
        "password": parsed.password,
        **parsed.query,
    }
    words = [f"{key}={value}" for key, value in pairs.items() if value is not None]
    shown = [word for word in words if not word.startswith("password=")]
    return " ".join(words), " ".join(shown)


def lake_location(settings: Settings) -> LakeLocation:
    """Return where the configured lake lives (SQLite + data dir unless configured otherwise)."""
    data_path = settings.warehouse_data_path or f"{(settings.data_dir / 'warehouse').resolve().as_posix()}/"
    if not data_path.endswith("/"):
        data_path += "/"
    catalog = settings.warehouse_catalog
    if catalog is None or catalog.startswith("sqlite:"):
        file = (
            Path(make_url(catalog).database or "") if catalog else settings.data_dir / "warehouse.sqlite"
        ).resolve()
        return LakeLocation(f"sqlite:{file.as_posix()}", data_path, shown=str(file), sqlite_file=file)
    if urlsplit(catalog).scheme.split("+")[0] in {"postgresql", "postgres"}:
        libpq, shown = _libpq_string(catalog)
        return LakeLocation(
            f"postgres:{libpq}",
            data_path,
            shown=f"postgres:{shown} (schema {settings.warehouse_catalog_schema})",
            metadata_schema=settings.warehouse_catalog_schema,
        )
    raise WarehouseError("OAKTREE_WAREHOUSE_CATALOG must be a postgresql:// or sqlite:/// URL")


def extension_file(name: str) -> Path:
    """Return the file of a DuckDB extension shipped by its PyPI package for this duckdb version."""
    package = _EXTENSION_PACKAGES[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise WarehouseError(f"the DuckDB extension package {package.replace('_', '-')} is not installed")
    path = (
        Path(next(iter(spec.submodule_search_locations)))
        / "extensions"
        / f"v{duckdb.__version__}"
        / f"{name}.duckdb_extension"
    )
    if not path.exists():
        raise WarehouseError(f"{package.replace('_', '-')} has no build for duckdb {duckdb.__version__}")
    return path


def _s3_secret_sql() -> str:
    """Return a CREATE SECRET giving DuckDB boto3's current credentials and endpoint for S3.

    boto3 resolves the standard chain (environment, profile, task or instance role) and
    `AWS_ENDPOINT_URL`/`AWS_ENDPOINT_URL_S3`; DuckDB gets exactly what boto3 would use.
    """
    credentials = aws.frozen_credentials()
    if credentials is None:
        raise WarehouseError("the warehouse data path is on S3 but boto3 finds no AWS credentials")
    endpoint = urlsplit(aws.endpoint_url("s3"))
    options = {
        "TYPE": "s3",
        "KEY_ID": sql_string(credentials.access_key),
        "SECRET": sql_string(credentials.secret_key),
        "REGION": sql_string(aws.default_region()),
    }
    if credentials.token:
        options["SESSION_TOKEN"] = sql_string(credentials.token)
    if not (endpoint.hostname or "").endswith("amazonaws.com"):
        options["ENDPOINT"] = sql_string(endpoint.netloc)
        options["URL_STYLE"] = "'path'"
        options["USE_SSL"] = "true" if endpoint.scheme == "https" else "false"
    return f"CREATE OR REPLACE SECRET oaktree_lake_s3 ({', '.join(f'{k} {v}' for k, v in options.items())})"


# DuckLake's words when a read-only ATTACH finds no lake in the catalog database.
_NO_LAKE_YET = "creating a new DuckLake is explicitly disabled"


def open_lake(location: LakeLocation, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Return a new DuckDB connection with the lake attached as `lake` and in use, in UTC."""
    # No silent download of an extension: what is needed is loaded from its package below.
    connection = duckdb.connect(
        config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}
    )
    try:
        connection.execute("SET TimeZone = 'UTC'")
        needed = ["ducklake", "sqlite_scanner" if location.sqlite_file else "postgres_scanner"]
        if location.on_s3:
            needed.append("httpfs")
        for name in needed:
            connection.execute(f"LOAD {sql_string(extension_file(name).as_posix())}")
        if location.on_s3:
            connection.execute(_s3_secret_sql())
        elif location.sqlite_file is not None and not read_only:
            Path(location.data_path).mkdir(parents=True, exist_ok=True)
            location.sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        _attach(connection, location.attach_sql(read_only=read_only))
        connection.execute(f"USE {LAKE}")
    except duckdb.Error as exc:
        connection.close()
        if read_only and _NO_LAKE_YET in str(exc):
            # A PostgreSQL catalog has no file to look for: DuckLake finds no lake in the schema.
            raise WarehouseNotFound(f"no warehouse at {location.shown} yet") from None
        raise WarehouseError(f"cannot open the warehouse at {location.shown}: {_first_line(exc)}") from None
    except BaseException:
        connection.close()
        raise
    return connection


# Two processes creating a SQLite catalog at once, or attaching while another commits, find it
# locked; the loser retries instead of failing its whole run.
_ATTACH_ATTEMPTS = 8


def _attach(connection: duckdb.DuckDBPyConnection, attach_sql: str) -> None:
    for attempt in range(1, _ATTACH_ATTEMPTS + 1):
        try:
            connection.execute(attach_sql)
            return
        except duckdb.Error as exc:
            if "database is locked" not in str(exc) or attempt == _ATTACH_ATTEMPTS:
                raise
            time.sleep(random.uniform(0, 0.05 * 2**attempt))


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _present(connection: duckdb.DuckDBPyConnection, schema_name: str) -> set[str]:
    rows = connection.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = ?",
        [LAKE, schema_name],
    ).fetchall()
    return {row[0] for row in rows}


def missing_tables(connection: duckdb.DuckDBPyConnection) -> list[Table]:
    """Return the tables of `TABLES` the attached lake does not have yet."""
    present = _present(connection, "main")
    return [table for table in TABLES if table.name not in present]


def missing_columns(connection: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Return, per existing table, the columns its definition has and the lake does not."""
    present: dict[str, set[str]] = {}
    for table_name, column_name in connection.execute(
        "SELECT table_name, column_name FROM duckdb_columns() "
        "WHERE database_name = ? AND schema_name = 'main'",
        [LAKE],
    ).fetchall():
        present.setdefault(table_name, set()).add(column_name)
    return {
        table.name: [name for name in table.column_names if name not in present[table.name]]
        for table in TABLES
        if table.name in present and any(name not in present[table.name] for name in table.column_names)
    }


def _missing_version_tables(connection: duckdb.DuckDBPyConnection) -> list[Table]:
    present = _present(connection, INTERNAL_SCHEMA)
    return [table for table in TABLES if version_table(table).split(".")[1] not in present]


def _unseeded_version_tables(connection: duckdb.DuckDBPyConnection) -> list[Table]:
    """Return the tables whose version table has no row yet."""
    return [
        table
        for table in TABLES
        if not connection.execute(f"SELECT count(*) FROM {version_table(table)}").fetchall()[0][0]
    ]


def _create_missing(cursor: duckdb.DuckDBPyConnection) -> list[str]:
    """Create missing tables, columns and version tables in the caller's transaction; return them."""
    created = []
    for table in missing_tables(cursor):  # again: another process may have created it meanwhile
        for statement in table.create_statements():
            cursor.execute(statement)
        created.append(table.name)
    for table_name, names in missing_columns(cursor).items():
        table = next(t for t in TABLES if t.name == table_name)
        for name in names:
            cursor.execute(f'ALTER TABLE {table_name} ADD COLUMN "{name}" {table.column(name).sql_type}')
            created.append(f"{table_name}.{name}")
    cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {INTERNAL_SCHEMA}")
    columns = ", ".join(f"{column.name} {column.sql_type} NOT NULL" for column in VERSION_COLUMNS)
    for table in _missing_version_tables(cursor):
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {version_table(table)} ({columns})")
        created.append(version_table(table))
    return created


def _seed_versions(cursor: duckdb.DuckDBPyConnection) -> None:
    """Give every version table its one row (in the caller's transaction)."""
    for table in _unseeded_version_tables(cursor):
        name = version_table(table).split(".")[1]
        # Its row changes with every write: kept in the catalog, not one small file per write.
        for option, value in (("data_inlining_row_limit", 1000), ("auto_compact", "false")):
            scope = f"schema => '{INTERNAL_SCHEMA}', table_name => '{name}'"
            cursor.execute(f"CALL {LAKE}.set_option('{option}', {value}, {scope})")
        cursor.execute(f"INSERT INTO {version_table(table)} VALUES (0, now())")


def ensure_tables(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """Create missing tables and columns, then version rows; return what was created.

    DDL in DuckLake is a snapshot like any write, so nothing is issued when nothing is missing:
    concurrent writers then never conflict on it. Table options cannot be set on a table in
    the transaction that creates it, hence the second transaction.
    """
    from oaktree.warehouse.writes import in_transaction  # writes imports this module

    created: list[str] = []
    if missing_tables(connection) or missing_columns(connection) or _missing_version_tables(connection):
        created = in_transaction(connection, _create_missing)
    if _unseeded_version_tables(connection):
        in_transaction(connection, _seed_versions)
    if created:
        log.info("warehouse_tables_created", created=created)
    return created


_ensured: set[LakeLocation] = set()
_ensured_lock = threading.Lock()


def open_for_writing(settings: Settings) -> duckdb.DuckDBPyConnection:
    """Return a read-write connection to the configured lake, creating the lake and tables if missing.

    Anything that writes the warehouse comes through here, so a fresh data dir needs no
    separate "init" step. Tables are checked once per process and location.
    """
    location = lake_location(settings)
    connection = open_lake(location, read_only=False)
    with _ensured_lock:
        if location not in _ensured:
            try:
                ensure_tables(connection)
            except BaseException:
                connection.close()
                raise
            _ensured.add(location)
    return connection


def connect(read_only: bool = True, *, settings: Settings | None = None) -> duckdb.DuckDBPyConnection:
    """Return a connection with the warehouse attached as `lake` (and in use), in UTC.

    The notebook entry point: `from oaktree.warehouse import connect; con = connect()`. Read-only
    by default, so a notebook or the dashboard can never change the lake; reads see each
    commit of the flows whole. Raises WarehouseNotFound before anything wrote the warehouse.
    """
    from oaktree.config import get_settings

    settings = settings or get_settings()
    if not read_only:
        return open_for_writing(settings)
    location = lake_location(settings)
    if not location.exists():
        raise WarehouseNotFound(
            f"no warehouse at {location.shown} yet: `oaktree discover` and `oaktree collect --once` create it"
        )
    connection = open_lake(location, read_only=True)
    if missing_tables(connection):
        connection.close()
        raise WarehouseNotFound(f"the warehouse at {location.shown} is not initialised yet")
    return connection


def cursor(connection: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Return a cursor of `connection` using the lake: one per thread, as DuckDB requires."""
    new_cursor = connection.cursor()
    new_cursor.execute(f"USE {LAKE}")
    return new_cursor
